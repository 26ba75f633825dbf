//! augmentd's gRPC API, package `augmentd.v1`, generated at build time from `proto/augmentd/v1`
//! (the `.proto` files document every field). Servers and clients both depend on this crate.
#![allow(missing_docs, clippy::all)]

/// Version 1 of the API.
pub mod v1 {
    tonic::include_proto!("augmentd.v1");

    /// The encoded file descriptor set of the package, for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("augmentd_v1_descriptor");
}
