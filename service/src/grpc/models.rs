//! The Models service: list, inspect, activate and delete published versions.
use std::sync::Arc;
use std::time::Instant;

use augmentd_proto::v1 as pb;
use pb::models_server::Models;
use tonic::{Request, Response, Status};

use crate::engine::{Engine, ModelSpec};

use super::convert;
use super::observe::observe;

/// The service.
pub struct ModelsService {
    engine: Arc<Engine>,
}

impl ModelsService {
    /// Serves `engine`'s registry.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }

    /// Runs a registry call off the async threads (deleting frees tensors), and records it.
    async fn call<T: Send + 'static>(
        &self,
        method: &'static str,
        work: impl FnOnce(&Engine) -> Result<T, Status> + Send + 'static,
    ) -> Result<Response<T>, Status> {
        let started = Instant::now();
        let engine = self.engine.clone();
        let result = tokio::task::spawn_blocking(move || work(&engine))
            .await
            .unwrap_or_else(|e| Err(Status::internal(format!("{method} failed: {e}"))));
        observe(&self.engine.metrics, method, started, &result);
        result.map(Response::new)
    }
}

#[tonic::async_trait]
impl Models for ModelsService {
    async fn list_models(
        &self,
        request: Request<pb::ListModelsRequest>,
    ) -> Result<Response<pb::ListModelsResponse>, Status> {
        let name = request.into_inner().name;
        self.call("ListModels", move |e| {
            let filter = Some(name.as_str()).filter(|n| !n.is_empty());
            Ok(pb::ListModelsResponse {
                models: e
                    .registry
                    .list(filter)
                    .iter()
                    .map(convert::model_version)
                    .collect(),
            })
        })
        .await
    }

    async fn get_model(
        &self,
        request: Request<pb::GetModelRequest>,
    ) -> Result<Response<pb::ModelVersion>, Status> {
        let model = request.into_inner().model;
        self.call("GetModel", move |e| {
            let spec = ModelSpec::parse(&model, "model")?;
            Ok(convert::model_version(&e.registry.view(&spec)?))
        })
        .await
    }

    async fn activate_model(
        &self,
        request: Request<pb::ActivateModelRequest>,
    ) -> Result<Response<pb::ModelVersion>, Status> {
        let model = request.into_inner().model;
        self.call("ActivateModel", move |e| {
            let spec = ModelSpec::parse(&model, "model")?;
            Ok(convert::model_version(&e.registry.activate(&spec)?))
        })
        .await
    }

    async fn delete_model(
        &self,
        request: Request<pb::DeleteModelRequest>,
    ) -> Result<Response<pb::DeleteModelResponse>, Status> {
        let request = request.into_inner();
        self.call("DeleteModel", move |e| {
            let spec = ModelSpec::parse(&request.model, "model")?;
            let deleted = e.registry.delete(&spec, request.force)?;
            Ok(pb::DeleteModelResponse {
                deleted: deleted.iter().map(convert::model_version).collect(),
            })
        })
        .await
    }
}
