//! TODO: campaign
