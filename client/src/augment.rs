//! Augmentation calls: one batch ([`Client::augment`]), a stream of batches
//! ([`Client::augment_stream`]), `ndarray` arrays and image files.
use std::path::Path;
use std::pin::Pin;

use augmentd_proto::v1 as pb;
use ndarray::{Array4, ArrayBase, Data, Ix4};
use tokio_stream::{Stream, StreamExt};

use crate::batch::{Element, ImageBatch, Layout};
use crate::client::Client;
use crate::error::ClientError;

/// A boxed stream of results, as the streaming calls return them.
pub type ResultStream<T> = Pin<Box<dyn Stream<Item = Result<T, ClientError>> + Send + 'static>>;

/// How the augmenter's randomness is sampled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sampling {
    /// As during bilevel training: noise and dropout both on (the default).
    #[default]
    Train,
    /// Evaluation mode: noise only, dropout off.
    Eval,
}

impl Sampling {
    fn to_proto(self) -> pb::Sampling {
        match self {
            Sampling::Train => pb::Sampling::Train,
            Sampling::Eval => pb::Sampling::Eval,
        }
    }
}

/// Settings of an augmentation call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AugmentOptions {
    /// Seed of the noise (same request, seed and model version: bit-identical output on CPU).
    /// `None`: the server draws one and returns it.
    pub seed: Option<u64>,
    /// Augmented copies per image (0 is taken as 1). Copies of image `i` are rows
    /// `i*copies .. i*copies+copies-1` of the result.
    pub copies: u32,
    /// Also return each output image's transformation parameters.
    pub return_params: bool,
    /// Train (default) or eval sampling.
    pub sampling: Sampling,
    /// Float input only: the data is standardized with the model's mean and std (else pixels
    /// in 0..1). The result is in the same convention.
    pub standardized: bool,
    /// Apply the learned transform only, not the hand-crafted base the model was learned on
    /// top of (its `base`): for a job whose own pipeline already applies it.
    pub learned_only: bool,
}

impl Default for AugmentOptions {
    fn default() -> Self {
        AugmentOptions {
            seed: None,
            copies: 1,
            return_params: false,
            sampling: Sampling::Train,
            standardized: false,
            learned_only: false,
        }
    }
}

/// An augmented batch and what produced it. `B` is an [`ImageBatch`], or an `ndarray` array
/// for the array helpers.
#[derive(Clone, Debug, PartialEq)]
pub struct Augmented<B = ImageBatch> {
    /// The images, `input images x copies` of them, in the input's dtype and layout.
    pub batch: B,
    /// The model that produced them.
    pub model_name: String,
    /// Its version.
    pub model_version: u64,
    /// The seed used (the request's, or the one the server drew).
    pub seed: u64,
    /// With `return_params`: the parameter names (a11, a12, tx, ..., brightness, ...).
    pub param_names: Vec<String>,
    /// With `return_params`: one row of `param_names.len()` values per output image,
    /// row-major.
    pub params: Vec<f32>,
}

impl<B> Augmented<B> {
    /// `name@version` of the model.
    pub fn model_ref(&self) -> String {
        format!("{}@{}", self.model_name, self.model_version)
    }

    /// The parameters of output image `row`, when parameters were returned.
    pub fn params_row(&self, row: usize) -> Option<&[f32]> {
        let k = self.param_names.len();
        if k == 0 {
            return None;
        }
        self.params.get(row * k..(row + 1) * k)
    }

    /// The same result with `f` applied to the images.
    pub fn try_map_batch<C>(
        self,
        f: impl FnOnce(B) -> Result<C, ClientError>,
    ) -> Result<Augmented<C>, ClientError> {
        Ok(Augmented {
            batch: f(self.batch)?,
            model_name: self.model_name,
            model_version: self.model_version,
            seed: self.seed,
            param_names: self.param_names,
            params: self.params,
        })
    }
}

/// The request for `batch` with `options`.
pub(crate) fn augment_request(
    model: &str,
    batch: ImageBatch,
    options: &AugmentOptions,
    seed: Option<u64>,
    request_id: String,
) -> pb::AugmentRequest {
    pb::AugmentRequest {
        model: model.to_string(),
        shape: batch.proto_shape(),
        dtype: batch.dtype().to_proto() as i32,
        layout: batch.layout().to_proto() as i32,
        data: batch.into_data(),
        standardized: options.standardized,
        seed,
        copies: options.copies,
        return_params: options.return_params,
        learned_only: options.learned_only,
        sampling: options.sampling.to_proto() as i32,
        request_id,
    }
}

/// A response as an [`Augmented`], its batch and parameter table checked.
pub(crate) fn augmented_from(response: pb::AugmentResponse) -> Result<Augmented, ClientError> {
    let batch = ImageBatch::from_proto(
        response.data,
        response.dtype,
        response.layout,
        &response.shape,
    )
    .map_err(|e| ClientError::Rpc {
        code: tonic::Code::Internal,
        message: format!("the server's response: {e}"),
    })?;
    let expected = batch.images() * response.param_names.len();
    if response.params.len() != expected {
        return Err(ClientError::Rpc {
            code: tonic::Code::Internal,
            message: format!(
                "the server's response has {} parameter values for {} images x {} names",
                response.params.len(),
                batch.images(),
                response.param_names.len()
            ),
        });
    }
    Ok(Augmented {
        batch,
        model_name: response.model_name,
        model_version: response.model_version,
        seed: response.seed,
        param_names: response.param_names,
        params: response.params,
    })
}

impl Client {
    /// Augments one batch with `model` (`name`, `name@version`, or `""` for the server's
    /// default model).
    pub async fn augment(
        &self,
        model: &str,
        batch: &ImageBatch,
        options: &AugmentOptions,
    ) -> Result<Augmented, ClientError> {
        let request = augment_request(model, batch.clone(), options, options.seed, String::new());
        let response = self.augmenter.clone().augment(request).await?.into_inner();
        augmented_from(response)
    }

    /// Augments a stream of batches over one AugmentStream call: one result per batch, in
    /// order. With a seed, batch `i` is augmented with `seed + i` (wrapping), so a seeded
    /// stream is reproducible without repeating the same noise. The first failing batch ends
    /// the stream with its error (every earlier result is delivered first). An iterator can
    /// be passed as `tokio_stream::iter(batches)`.
    pub async fn augment_stream<S>(
        &self,
        model: &str,
        options: &AugmentOptions,
        batches: S,
    ) -> Result<ResultStream<Augmented>, ClientError>
    where
        S: Stream<Item = ImageBatch> + Send + 'static,
    {
        let model = model.to_string();
        let opts = options.clone();
        let mut index = 0u64;
        let requests = batches.map(move |batch| {
            let seed = opts.seed.map(|s| s.wrapping_add(index));
            let request = augment_request(&model, batch, &opts, seed, index.to_string());
            index += 1;
            request
        });
        let responses = self
            .augmenter
            .clone()
            .augment_stream(requests)
            .await?
            .into_inner();
        let mut expected = 0u64;
        let results = responses.map(move |response| {
            let response = response?;
            if response.request_id != expected.to_string() {
                return Err(ClientError::Rpc {
                    code: tonic::Code::Internal,
                    message: format!(
                        "response {expected} of the stream answers request {:?}",
                        response.request_id
                    ),
                });
            }
            expected += 1;
            augmented_from(response)
        });
        Ok(Box::pin(results))
    }

    /// Augments an array whose axes are in `layout` order; the result is an array of the same
    /// element type and layout.
    pub async fn augment_array<A, S>(
        &self,
        model: &str,
        images: &ArrayBase<S, Ix4>,
        layout: Layout,
        options: &AugmentOptions,
    ) -> Result<Augmented<Array4<A>>, ClientError>
    where
        A: Element,
        S: Data<Elem = A>,
    {
        let batch = ImageBatch::from_array(images, layout)?;
        self.augment(model, &batch, options)
            .await?
            .try_map_batch(|b| b.to_array::<A>())
    }

    /// [`Client::augment_array`] for 8-bit pixels.
    pub async fn augment_array_u8<S: Data<Elem = u8>>(
        &self,
        model: &str,
        images: &ArrayBase<S, Ix4>,
        layout: Layout,
        options: &AugmentOptions,
    ) -> Result<Augmented<Array4<u8>>, ClientError> {
        self.augment_array(model, images, layout, options).await
    }

    /// [`Client::augment_array`] for `f32` pixels in 0..1 (or standardized values, with
    /// `options.standardized`).
    pub async fn augment_array_f32<S: Data<Elem = f32>>(
        &self,
        model: &str,
        images: &ArrayBase<S, Ix4>,
        layout: Layout,
        options: &AugmentOptions,
    ) -> Result<Augmented<Array4<f32>>, ClientError> {
        self.augment_array(model, images, layout, options).await
    }

    /// Augments image files (PNG, JPEG, TIFF) sent as one `u8` NHWC batch; they must share
    /// size and channel count (see [`ImageBatch::from_image_files`]).
    pub async fn augment_files<P: AsRef<Path>>(
        &self,
        model: &str,
        paths: &[P],
        options: &AugmentOptions,
    ) -> Result<Augmented, ClientError> {
        let batch = ImageBatch::from_image_files(paths)?;
        self.augment(model, &batch, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::DType;

    #[test]
    fn requests_carry_the_batch_and_options() {
        let batch =
            ImageBatch::new(vec![7; 12], DType::U8, Layout::Nhwc, [1, 2, 2, 3]).expect("batch");
        let options = AugmentOptions {
            seed: Some(5),
            copies: 4,
            return_params: true,
            sampling: Sampling::Eval,
            standardized: false,
            learned_only: true,
        };
        let r = augment_request("cifar@2", batch, &options, options.seed, "3".into());
        assert!(r.learned_only);
        assert_eq!(r.model, "cifar@2");
        assert_eq!(r.shape, [1, 2, 2, 3]);
        assert_eq!(r.dtype(), pb::DType::DtypeUint8);
        assert_eq!(r.layout(), pb::Layout::Nhwc);
        assert_eq!(r.sampling(), pb::Sampling::Eval);
        assert_eq!((r.seed, r.copies, r.return_params), (Some(5), 4, true));
        assert_eq!(r.data.len(), 12);
        assert_eq!(r.request_id, "3");
    }

    #[test]
    fn responses_are_checked_and_params_split_by_row() {
        let response = pb::AugmentResponse {
            data: vec![0; 2 * 4],
            dtype: pb::DType::DtypeFloat32 as i32,
            layout: pb::Layout::Nchw as i32,
            shape: vec![2, 1, 1, 1],
            model_name: "m".into(),
            model_version: 3,
            seed: 9,
            param_names: vec!["tx".into(), "ty".into()],
            params: vec![0.1, 0.2, 0.3, 0.4],
            request_id: String::new(),
        };
        let a = augmented_from(response.clone()).expect("valid");
        assert_eq!(a.model_ref(), "m@3");
        assert_eq!(a.params_row(1), Some(&[0.3f32, 0.4][..]));
        assert_eq!(a.params_row(2), None);

        let bad = pb::AugmentResponse {
            params: vec![0.1],
            ..response.clone()
        };
        let err = augmented_from(bad).expect_err("params");
        assert!(err.to_string().starts_with("INTERNAL: "), "{err}");
        let bad = pb::AugmentResponse {
            data: vec![0; 3],
            ..response
        };
        assert!(augmented_from(bad).is_err());
    }
}
