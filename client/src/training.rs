//! Training jobs: start, inspect, list, cancel and watch them.
use augmentd_proto::v1 as pb;
use augmentd_proto::v1::job_event::Event;
use tokio_stream::StreamExt;

use crate::augment::ResultStream;
use crate::client::Client;
use crate::error::ClientError;

/// True for the states a job never leaves: SUCCEEDED, FAILED, CANCELLED.
pub fn is_finished(state: pb::JobState) -> bool {
    matches!(
        state,
        pb::JobState::Succeeded | pb::JobState::Failed | pb::JobState::Cancelled
    )
}

/// `SUCCEEDED`, `RUNNING`, ... (the proto name without its `JOB_STATE_` prefix).
pub fn state_name(state: pb::JobState) -> &'static str {
    let name = state.as_str_name();
    name.strip_prefix("JOB_STATE_").unwrap_or(name)
}

/// A state from its name, in any case, with or without the `JOB_STATE_` prefix.
pub fn parse_state(name: &str) -> Result<pb::JobState, ClientError> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("JOB_STATE_") {
        upper
    } else {
        format!("JOB_STATE_{upper}")
    };
    match pb::JobState::from_str_name(&full) {
        Some(state) if state != pb::JobState::Unspecified => Ok(state),
        _ => Err(ClientError::invalid(format!(
            "job state {name:?}: expected queued, running, succeeded, failed or cancelled"
        ))),
    }
}

impl Client {
    /// Validates a run configuration and queues the job; returns it (its `id` names it).
    pub async fn start_training(
        &self,
        request: pb::StartTrainingRequest,
    ) -> Result<pb::Job, ClientError> {
        Ok(self
            .training
            .clone()
            .start_training(request)
            .await?
            .into_inner())
    }

    /// One job.
    pub async fn get_job(&self, id: &str) -> Result<pb::Job, ClientError> {
        let request = pb::GetJobRequest { id: id.to_string() };
        Ok(self.training.clone().get_job(request).await?.into_inner())
    }

    /// Every job (or those in `state`), oldest first.
    pub async fn list_jobs(
        &self,
        state: Option<pb::JobState>,
    ) -> Result<Vec<pb::Job>, ClientError> {
        let request = pb::ListJobsRequest {
            state: state.unwrap_or(pb::JobState::Unspecified) as i32,
        };
        Ok(self
            .training
            .clone()
            .list_jobs(request)
            .await?
            .into_inner()
            .jobs)
    }

    /// Cancels a queued or running job; returns it (a finished job comes back unchanged).
    pub async fn cancel_job(&self, id: &str) -> Result<pb::Job, ClientError> {
        let request = pb::CancelJobRequest { id: id.to_string() };
        Ok(self
            .training
            .clone()
            .cancel_job(request)
            .await?
            .into_inner())
    }

    /// The job's events: the job itself, every epoch record so far, then live events until the
    /// job finishes (the last event is its final [`Event::Job`]). Events without content are
    /// skipped.
    pub async fn watch_job(&self, id: &str) -> Result<ResultStream<Event>, ClientError> {
        let request = pb::WatchJobRequest { id: id.to_string() };
        let events = self.training.clone().watch_job(request).await?.into_inner();
        let events = events.filter_map(|event| match event {
            Ok(pb::JobEvent { event: Some(e) }) => Some(Ok(e)),
            Ok(pb::JobEvent { event: None }) => None,
            Err(status) => Some(Err(ClientError::from(status))),
        });
        Ok(Box::pin(events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_and_print() {
        assert_eq!(
            parse_state("running").expect("running"),
            pb::JobState::Running
        );
        assert_eq!(
            parse_state("JOB_STATE_FAILED").expect("failed"),
            pb::JobState::Failed
        );
        assert!(parse_state("unspecified").is_err());
        assert!(parse_state("done").is_err());
        assert_eq!(state_name(pb::JobState::Succeeded), "SUCCEEDED");
        assert!(is_finished(pb::JobState::Cancelled));
        assert!(!is_finished(pb::JobState::Queued));
    }
}
