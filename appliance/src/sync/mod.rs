//! Sending every keepsake to the memorial server, exactly once, whatever the network does.

pub mod cover;
pub mod uploader;
