//! S3: the client built from config, the embedded server's lifecycle, inspection,
//! prefix cleanup and the fault-injecting proxy.

pub mod view;
