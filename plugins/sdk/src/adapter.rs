//! The generic glue between the wit-bindgen `Guest` traits and the SDK traits.
//!
//! [`export_resource_type!`](crate::export_resource_type) and
//! [`export_test_step!`](crate::export_test_step) export `ResourceAdapter<T>` /
//! `TestStepAdapter<T>` for the plugin's type `T`; nothing here is meant to be used directly.

use std::marker::PhantomData;

use crate::bindings::resource_type::exports::lockgate::plugin::resource_ops as resource;
use crate::bindings::test_step::exports::lockgate::plugin::test_ops as test;
use crate::{ResourceType, TestStep, Version, parse_json, wit};

/// Implements the exported `resource-ops` interface for the resource type `T`.
#[doc(hidden)]
pub struct ResourceAdapter<T>(PhantomData<fn() -> T>);

impl<T: ResourceType> resource::Guest for ResourceAdapter<T> {
    fn describe() -> wit::Description {
        T::describe().into_wit(wit::PluginKind::ResourceType)
    }

    fn check(
        source: String,
        from: Option<Vec<wit::Pair>>,
    ) -> Result<Vec<Vec<wit::Pair>>, wit::PluginError> {
        let source = parse_json("source", &source)?;
        let versions = T::check(source, from.map(Version::from))?;
        Ok(versions.into_iter().map(Into::into).collect())
    }

    fn get(
        source: String,
        version: Vec<wit::Pair>,
        params: String,
    ) -> Result<wit::Fetched, wit::PluginError> {
        let source = parse_json("source", &source)?;
        let params = parse_json("params", &params)?;
        Ok(T::get(source, version.into(), params)?.into())
    }

    fn put(source: String, params: String) -> Result<wit::Fetched, wit::PluginError> {
        let source = parse_json("source", &source)?;
        let params = parse_json("params", &params)?;
        Ok(T::put(source, params)?.into())
    }
}

/// Implements the exported `test-ops` interface for the test step `T`.
#[doc(hidden)]
pub struct TestStepAdapter<T>(PhantomData<fn() -> T>);

impl<T: TestStep> test::Guest for TestStepAdapter<T> {
    fn describe() -> wit::Description {
        T::describe().into_wit(wit::PluginKind::TestStep)
    }

    fn run(config: String) -> Result<wit::TestReport, wit::PluginError> {
        let config = parse_json("config", &config)?;
        Ok(T::run(config)?.into())
    }
}
