"""Generated protobuf and gRPC stubs of augmentd.v1 (see generate_stubs.py). Do not edit."""
