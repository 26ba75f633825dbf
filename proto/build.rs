//! Compiles `augmentd/v1/*.proto` with protox (a pure-Rust protobuf compiler: no system
//! `protoc`) and generates the tonic client and server code from the descriptors. The encoded
//! descriptor set is also written to OUT_DIR for gRPC server reflection.
use std::path::PathBuf;

use prost::Message;

const PROTOS: [&str; 3] = [
    "augmentd/v1/augmenter.proto",
    "augmentd/v1/models.proto",
    "augmentd/v1/training.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(PROTOS, ["."])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("augmentd_v1_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
