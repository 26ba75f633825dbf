//! The Models service: list, inspect, activate and delete published versions.
use std::sync::Arc;

use augmentd_proto::v1 as pb;
use pb::models_server::Models;
use tonic::{Request, Response, Status};

use crate::engine::{Engine, ModelSpec};

use super::convert;
use super::observe::blocking_call;

/// The service.
pub struct ModelsService {
    engine: Arc<Engine>,
}

impl ModelsService {
    /// Serves `engine`'s registry.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

#[tonic::async_trait]
impl Models for ModelsService {
    async fn list_models(
        &self,
        request: Request<pb::ListModelsRequest>,
    ) -> Result<Response<pb::ListModelsResponse>, Status> {
        let name = request.into_inner().name;
        blocking_call(&self.engine, "ListModels", move |e| {
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
        blocking_call(&self.engine, "GetModel", move |e| {
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
        blocking_call(&self.engine, "ActivateModel", move |e| {
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
        blocking_call(&self.engine, "DeleteModel", move |e| {
            let spec = ModelSpec::parse(&request.model, "model")?;
            let deleted = e.registry.delete(&spec, request.force)?;
            Ok(pb::DeleteModelResponse {
                deleted: deleted.iter().map(convert::model_version).collect(),
            })
        })
        .await
    }
}
