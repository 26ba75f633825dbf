//! The Training service: jobs as long-running operations. Handlers only convert; the job
//! manager checks configurations, persists jobs and runs them on its own threads.
use std::pin::Pin;
use std::sync::Arc;

use augmentd_proto::v1 as pb;
use pb::training_server::Training;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::engine::{Engine, JobUpdate};

use super::convert;
use super::observe::blocking_call;

/// The service.
pub struct TrainingService {
    engine: Arc<Engine>,
    stopping: watch::Receiver<bool>,
}

impl TrainingService {
    /// Serves `engine`'s jobs; watches end when `stopping` turns true.
    pub fn new(engine: Arc<Engine>, stopping: watch::Receiver<bool>) -> Self {
        Self { engine, stopping }
    }
}

#[tonic::async_trait]
impl Training for TrainingService {
    async fn start_training(
        &self,
        request: Request<pb::StartTrainingRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let request = convert::training_request(request.into_inner());
        blocking_call(&self.engine, "StartTraining", move |e| {
            Ok(convert::job(&e.jobs.submit(request)?))
        })
        .await
    }

    async fn get_job(
        &self,
        request: Request<pb::GetJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let id = request.into_inner().id;
        blocking_call(&self.engine, "GetJob", move |e| {
            Ok(convert::job(&e.jobs.get(&id)?))
        })
        .await
    }

    async fn list_jobs(
        &self,
        request: Request<pb::ListJobsRequest>,
    ) -> Result<Response<pb::ListJobsResponse>, Status> {
        let state = request.into_inner().state;
        blocking_call(&self.engine, "ListJobs", move |e| {
            let filter = convert::state_filter(state)?;
            Ok(pb::ListJobsResponse {
                jobs: e.jobs.list(filter).iter().map(convert::job).collect(),
            })
        })
        .await
    }

    async fn cancel_job(
        &self,
        request: Request<pb::CancelJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let id = request.into_inner().id;
        blocking_call(&self.engine, "CancelJob", move |e| {
            Ok(convert::job(&e.jobs.cancel(&id)?))
        })
        .await
    }

    type WatchJobStream =
        Pin<Box<dyn Stream<Item = Result<pb::JobEvent, Status>> + Send + 'static>>;

    async fn watch_job(
        &self,
        request: Request<pb::WatchJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let id = request.into_inner().id;
        let watch = self.engine.jobs.watch(&id).map_err(Status::from)?;
        let (tx, rx) = mpsc::channel(64);
        let mut stopping = self.stopping.clone();
        tokio::spawn(async move {
            let first = JobUpdate::Job(Box::new(watch.snapshot));
            for update in std::iter::once(&first).chain(watch.backlog.iter()) {
                if tx.send(Ok(convert::job_event(update))).await.is_err() {
                    return;
                }
            }
            let Some(mut live) = watch.live else {
                return;
            };
            loop {
                let update = tokio::select! {
                    update = live.recv() => update,
                    _ = async { stopping.wait_for(|s| *s).await.map(|_| ()) } => {
                        let _ = tx.send(Err(Status::unavailable(
                            "the server is shutting down; the job resumes when it starts again: watch again then",
                        ))).await;
                        return;
                    }
                };
                match update {
                    Ok(update) => {
                        let last = matches!(&update, JobUpdate::Job(r) if r.state.is_final());
                        if tx.send(Ok(convert::job_event(&update))).await.is_err() || last {
                            return;
                        }
                    }
                    // A slow watcher misses step progress, never the end: go on.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
