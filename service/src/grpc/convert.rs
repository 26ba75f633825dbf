//! Conversions between the wire messages of `augmentd.v1` and the engine's types. Every
//! refusal names the request field and what was expected.
use std::time::Instant;

use augmentd_proto::v1 as pb;

use crate::engine::{
    AugmentOutput, AugmentParams, EngineError, JobRecord, JobState, JobUpdate, Layout, ModelView,
    PixelType, RawBatch, StepProgress, TrainingRequest,
};
use crate::model::TransformStat;
use crate::train::EpochRecord;

/// Checks an AugmentRequest's fields and batch (not yet against a model).
pub fn augment_params(
    request: pb::AugmentRequest,
    deadline: Option<Instant>,
    max_message_bytes: usize,
) -> Result<AugmentParams, EngineError> {
    if request.data.len() > max_message_bytes {
        return Err(EngineError::invalid(
            "data",
            format!(
                "{} bytes exceed the server's message limit of {max_message_bytes} bytes: split the batch into smaller requests, or send them one after another on AugmentStream",
                request.data.len()
            ),
        ));
    }
    let dtype = match pb::DType::try_from(request.dtype) {
        Ok(pb::DType::DtypeUint8) => PixelType::Uint8,
        Ok(pb::DType::DtypeFloat32) => PixelType::Float32,
        Ok(pb::DType::DtypeFloat16) => PixelType::Float16,
        Ok(pb::DType::DtypeUnspecified) => {
            return Err(EngineError::invalid(
                "dtype",
                "not set: expected DTYPE_UINT8, DTYPE_FLOAT32 or DTYPE_FLOAT16",
            ))
        }
        Err(_) => {
            return Err(EngineError::invalid(
                "dtype",
                format!(
                    "unknown value {}: expected DTYPE_UINT8 (1), DTYPE_FLOAT32 (2) or DTYPE_FLOAT16 (3)",
                    request.dtype
                ),
            ))
        }
    };
    let layout = match pb::Layout::try_from(request.layout) {
        Ok(pb::Layout::Nchw) => Layout::Nchw,
        Ok(pb::Layout::Nhwc) => Layout::Nhwc,
        Ok(pb::Layout::Unspecified) => {
            return Err(EngineError::invalid(
                "layout",
                "not set: expected LAYOUT_NCHW or LAYOUT_NHWC",
            ))
        }
        Err(_) => {
            return Err(EngineError::invalid(
                "layout",
                format!(
                    "unknown value {}: expected LAYOUT_NCHW (1) or LAYOUT_NHWC (2)",
                    request.layout
                ),
            ))
        }
    };
    let dropout = match pb::Sampling::try_from(request.sampling) {
        Ok(pb::Sampling::Unspecified | pb::Sampling::Train) => true,
        Ok(pb::Sampling::Eval) => false,
        Err(_) => {
            return Err(EngineError::invalid(
                "sampling",
                format!(
                    "unknown value {}: expected SAMPLING_TRAIN (1) or SAMPLING_EVAL (2)",
                    request.sampling
                ),
            ))
        }
    };
    let batch = RawBatch::new(
        request.data,
        dtype,
        layout,
        &request.shape,
        request.standardized,
    )?;
    Ok(AugmentParams {
        model: request.model,
        batch,
        seed: request.seed,
        copies: request.copies,
        return_params: request.return_params,
        learned_only: request.learned_only,
        dropout,
        deadline,
    })
}

/// The response to an augmented batch.
pub fn augment_response(output: AugmentOutput, request_id: String) -> pb::AugmentResponse {
    let dtype = match output.batch.dtype() {
        PixelType::Uint8 => pb::DType::DtypeUint8,
        PixelType::Float32 => pb::DType::DtypeFloat32,
        PixelType::Float16 => pb::DType::DtypeFloat16,
    };
    let layout = match output.batch.layout() {
        Layout::Nchw => pb::Layout::Nchw,
        Layout::Nhwc => pb::Layout::Nhwc,
    };
    let shape = output.batch.shape();
    pb::AugmentResponse {
        data: output.batch.into_data(),
        dtype: dtype as i32,
        layout: layout as i32,
        shape,
        model_name: output.model_name,
        model_version: output.model_version,
        seed: output.seed,
        param_names: output.param_names,
        params: output.params,
        request_id,
    }
}

/// A StartTrainingRequest as the engine takes it.
pub fn training_request(r: pb::StartTrainingRequest) -> TrainingRequest {
    TrainingRequest {
        preset: r.preset,
        config_toml: r.config_toml,
        overrides: r.overrides,
        dataset: r.dataset,
        test_dataset: r.test_dataset,
        model_name: r.model_name,
        publish_every: r.publish_every_epochs,
        activate: r.activate.unwrap_or(true),
    }
}

/// A job state on the wire.
pub fn job_state(state: JobState) -> pb::JobState {
    match state {
        JobState::Queued => pb::JobState::Queued,
        JobState::Running => pb::JobState::Running,
        JobState::Succeeded => pb::JobState::Succeeded,
        JobState::Failed => pb::JobState::Failed,
        JobState::Cancelled => pb::JobState::Cancelled,
    }
}

/// A state filter of ListJobs (`None`: all).
pub fn state_filter(value: i32) -> Result<Option<JobState>, EngineError> {
    Ok(match pb::JobState::try_from(value) {
        Ok(pb::JobState::Unspecified) => None,
        Ok(pb::JobState::Queued) => Some(JobState::Queued),
        Ok(pb::JobState::Running) => Some(JobState::Running),
        Ok(pb::JobState::Succeeded) => Some(JobState::Succeeded),
        Ok(pb::JobState::Failed) => Some(JobState::Failed),
        Ok(pb::JobState::Cancelled) => Some(JobState::Cancelled),
        Err(_) => {
            return Err(EngineError::invalid(
                "state",
                format!("unknown value {value}: expected 0 (all) to 5"),
            ))
        }
    })
}

/// An epoch record on the wire.
pub fn epoch_record(r: &EpochRecord) -> pb::EpochRecord {
    pb::EpochRecord {
        epoch: r.epoch,
        train_loss: r.train_loss,
        val_loss: r.val_loss,
        train_acc: r.train_acc,
        val_acc: r.val_acc,
        test_acc: r.test_acc,
        lr: r.lr,
        seconds: r.seconds,
        images_per_second: r.images_per_second,
        augmenter_grad_norm: r.augmenter_grad_norm,
        transforms: transform_stats(&r.transforms),
        served: transform_stats(&r.served),
        collapsed: r.collapsed,
    }
}

fn transform_stats(stats: &[TransformStat]) -> Vec<pb::TransformStat> {
    stats
        .iter()
        .map(|t| pb::TransformStat {
            name: t.name.clone(),
            mean: t.mean,
            std: t.std,
        })
        .collect()
}

/// A job on the wire.
pub fn job(r: &JobRecord) -> pb::Job {
    pb::Job {
        id: r.id.clone(),
        state: job_state(r.state) as i32,
        failure_reason: r.failure_reason.clone(),
        config_toml: r.config_toml.clone(),
        dataset: r.dataset.clone(),
        model_name: r.model_name.clone(),
        epochs: r.epochs,
        epochs_done: r.epochs_done,
        last_record: r.last_record.as_ref().map(epoch_record),
        published: r.published.clone(),
        created_unix_ms: r.created_unix_ms,
        started_unix_ms: r.started_unix_ms,
        finished_unix_ms: r.finished_unix_ms,
    }
}

/// A model version on the wire.
pub fn model_version(v: &ModelView) -> pb::ModelVersion {
    let m = &v.meta;
    let (info, served) = (&m.info, &m.served);
    pb::ModelVersion {
        name: m.name.clone(),
        version: m.version,
        active: v.active,
        default: v.default,
        augmenter: info.kind.name(),
        variant: info.variant.name().into(),
        base: info.base.map(|b| b.to_string()).unwrap_or_default(),
        dataset: m.provenance.dataset.clone(),
        channels: info.shape.channels as u32,
        height: info.shape.height as u32,
        width: info.shape.width as u32,
        mean: info.normalization.mean.clone(),
        std: info.normalization.std.clone(),
        source_job: m.provenance.job.clone(),
        epoch: info.epoch,
        metrics: m
            .provenance
            .metrics
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        served: served
            .params
            .iter()
            .map(|s| pb::TransformStat {
                name: s.name.clone(),
                mean: s.mean,
                std: s.std,
            })
            .collect(),
        draws: served.draws as u32,
        collapsed: served.collapsed,
        collapse_threshold: served.threshold,
        created_unix_ms: m.created_unix_ms,
    }
}

/// A watch update on the wire.
pub fn job_event(update: &JobUpdate) -> pb::JobEvent {
    use pb::job_event::Event;
    let event = match update {
        JobUpdate::Job(r) => Event::Job(job(r)),
        JobUpdate::Epoch(r) => Event::Epoch(epoch_record(r)),
        JobUpdate::Step(StepProgress {
            epoch,
            step,
            steps_per_epoch,
            train_loss,
        }) => Event::Step(pb::StepProgress {
            epoch: *epoch,
            step: *step,
            steps_per_epoch: *steps_per_epoch,
            train_loss: *train_loss,
        }),
        JobUpdate::Published(v) => Event::Published(model_version(v)),
    };
    pb::JobEvent { event: Some(event) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> pb::AugmentRequest {
        pb::AugmentRequest {
            data: vec![0; 2 * 3 * 4 * 4],
            dtype: pb::DType::DtypeUint8 as i32,
            layout: pb::Layout::Nchw as i32,
            shape: vec![2, 3, 4, 4],
            ..Default::default()
        }
    }

    fn refusal(r: pb::AugmentRequest) -> String {
        augment_params(r, None, 1 << 20)
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn learned_only_reaches_the_engine() {
        let params = augment_params(request(), None, 1 << 20).expect("a valid request");
        assert!(!params.learned_only, "the base applies by default");
        let params = augment_params(
            pb::AugmentRequest {
                learned_only: true,
                ..request()
            },
            None,
            1 << 20,
        )
        .expect("a valid request");
        assert!(params.learned_only);
    }

    #[test]
    fn enum_fields_are_checked_by_name() {
        assert!(augment_params(request(), None, 1 << 20).is_ok());
        let e = refusal(pb::AugmentRequest {
            dtype: 0,
            ..request()
        });
        assert!(e.starts_with("dtype: not set"), "{e}");
        let e = refusal(pb::AugmentRequest {
            dtype: 9,
            ..request()
        });
        assert!(e.starts_with("dtype: unknown value 9"), "{e}");
        let e = refusal(pb::AugmentRequest {
            layout: 0,
            ..request()
        });
        assert!(e.starts_with("layout: not set"), "{e}");
        let e = refusal(pb::AugmentRequest {
            sampling: 7,
            ..request()
        });
        assert!(e.starts_with("sampling: unknown value 7"), "{e}");
    }

    #[test]
    fn validation_figures_are_absent_on_the_wire_without_a_split() {
        let record = EpochRecord {
            epoch: 4,
            train_loss: 0.5,
            val_loss: Some(0.75),
            train_acc: 90.0,
            val_acc: Some(87.5),
            test_acc: None,
            lr: 0.1,
            seconds: 1.0,
            images_per_second: 10.0,
            augmenter_grad_norm: None,
            transforms: Vec::new(),
            served: vec![TransformStat {
                name: "tx".into(),
                mean: 0.25,
                std: 0.0,
            }],
            collapsed: true,
        };
        let wire = epoch_record(&record);
        assert_eq!(
            (wire.val_loss, wire.val_acc, wire.test_acc),
            (Some(0.75), Some(87.5), None)
        );
        // The served distribution and the collapse flag travel with the record.
        assert!(wire.collapsed);
        assert_eq!(
            wire.served,
            vec![pb::TransformStat {
                name: "tx".into(),
                mean: 0.25,
                std: 0.0
            }]
        );
        let wire = epoch_record(&EpochRecord {
            val_loss: None,
            val_acc: None,
            test_acc: Some(80.0),
            ..record
        });
        assert_eq!(
            (wire.epoch, wire.val_loss, wire.val_acc, wire.test_acc),
            (4, None, None, Some(80.0))
        );
    }

    #[test]
    fn oversized_data_is_told_to_split_or_stream() {
        let e = augment_params(request(), None, 10)
            .expect_err("refused")
            .to_string();
        assert!(
            e.starts_with("data: 96 bytes exceed the server's message limit of 10 bytes"),
            "{e}"
        );
        assert!(e.contains("AugmentStream"), "{e}");
    }
}
