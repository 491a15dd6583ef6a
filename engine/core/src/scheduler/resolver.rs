//! Input resolution behind a trait, as Concourse's scheduler takes an `Algorithm`: which
//! versions a new build of a job would get. The store's resolution (`passed` constraints,
//! pins, disabled versions, `every`) is the real one; tests of scheduling decisions hand the
//! scheduler a fake.

use futures::future::BoxFuture;
use lockgate_store::{InputSpec, ResolvedInput, Store, StoreError};

/// Chooses the versions of a job's inputs.
pub trait InputResolver: Send + Sync {
    /// The inputs a new build of `job` would get, or `None` when some input has no acceptable
    /// version yet.
    fn resolve<'a>(
        &'a self,
        job: &'a str,
        inputs: &'a [InputSpec],
    ) -> BoxFuture<'a, Result<Option<Vec<ResolvedInput>>, StoreError>>;
}

impl InputResolver for Store {
    fn resolve<'a>(
        &'a self,
        job: &'a str,
        inputs: &'a [InputSpec],
    ) -> BoxFuture<'a, Result<Option<Vec<ResolvedInput>>, StoreError>> {
        Box::pin(self.resolve_inputs(job, inputs))
    }
}
