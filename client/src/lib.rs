//! Rust client of augmentd, the learned-data-augmentation service: a [`Client`] over one gRPC
//! channel (plain or TLS, with a bearer token) for the Augmenter, Training and Models services
//! and grpc.health.v1, and [`ImageBatch`], the tensor format of the API, with conversions from
//! and to `ndarray` arrays, image files and `.npy` files. It does not link libtorch.
//!
//! ```no_run
//! use augmentd_client::{AugmentOptions, Client, ConnectOptions, Layout};
//! use ndarray::Array4;
//!
//! # async fn demo() -> Result<(), augmentd_client::ClientError> {
//! let client = Client::connect(ConnectOptions::new("http://127.0.0.1:50051")).await?;
//! let images = Array4::<u8>::zeros([8, 32, 32, 3]);
//! let options = AugmentOptions { seed: Some(7), copies: 2, ..AugmentOptions::default() };
//! let out = client.augment_array_u8("cifar", &images, Layout::Nhwc, &options).await?;
//! assert_eq!(out.batch.dim(), (16, 32, 32, 3));
//! println!("augmented by {}", out.model_ref());
//! # Ok(())
//! # }
//! ```

mod augment;
mod batch;
mod client;
mod connect;
mod error;
mod images;
mod models;
mod npy;
mod training;

pub use augment::{AugmentOptions, Augmented, ResultStream, Sampling};
pub use batch::{DType, Element, ImageBatch, Layout};
pub use client::{Client, ServingStatus, Transport};
pub use connect::{ConnectOptions, TlsOptions, TokenInterceptor};
pub use error::{code_name, ClientError};
pub use images::{
    image_info, is_image_file, list_image_files, load_image, ImageInfo, IMAGE_EXTENSIONS,
};
pub use models::model_ref;
pub use npy::default_npy_layout;
pub use training::{is_finished, parse_state, state_name};

/// The generated messages and clients of `augmentd.v1` (`proto::Job`, `proto::ModelVersion`,
/// `proto::StartTrainingRequest`, `proto::job_event::Event`, ...).
pub use augmentd_proto::v1 as proto;

/// The `ndarray` version the array conversions use.
pub use ndarray;

/// The `half` version of [`half::f16`] batches.
pub use half;
