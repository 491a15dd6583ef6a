//! `lockgate logs BUILD [--follow]`: the log of a build, by id or `JOB/NUMBER`.

use std::process::ExitCode;

use anyhow::Context;

use super::backend::{Backend, Result};
use lockgate_api::wire;

/// A build named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BuildRef {
    /// By id.
    Id(i64),
    /// By job and number.
    Number(String, i64),
}

impl BuildRef {
    /// Parses a build id, or `JOB/NUMBER` (`JOB/#NUMBER` too).
    pub(crate) fn parse(spec: &str) -> Result<Self> {
        if let Some((job, number)) = spec.rsplit_once('/') {
            let number: i64 = number
                .trim_start_matches('#')
                .parse()
                .with_context(|| format!("`{spec}`: expected JOB/NUMBER"))?;
            return Ok(Self::Number(job.to_owned(), number));
        }
        let id: i64 = spec
            .parse()
            .with_context(|| format!("`{spec}`: expected a build id or JOB/NUMBER"))?;
        Ok(Self::Id(id))
    }
}

fn print_line(l: &wire::LogLine) {
    println!(
        "[{}] {}",
        crate::terminal::safe(&l.stream),
        crate::terminal::safe(&l.text)
    );
}

/// `lockgate logs BUILD [--follow]`: every line; with `follow`, new lines until the build
/// ends, then how it ended.
pub(super) async fn logs(backend: &impl Backend, spec: &str, follow: bool) -> Result<ExitCode> {
    let build = backend.build(&BuildRef::parse(spec)?).await?;
    if follow {
        let status = backend.follow(&build, &mut print_line).await?;
        println!("build {} #{} {status}", build.job, build.number);
        return Ok(ExitCode::SUCCESS);
    }
    let mut after = 0;
    loop {
        let page = backend.logs(build.id, after).await?;
        if page.lines.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        page.lines.iter().for_each(print_line);
        after = page.next_after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_are_named_by_id_or_job_and_number() {
        assert_eq!(BuildRef::parse("42").unwrap(), BuildRef::Id(42));
        assert_eq!(
            BuildRef::parse("deploy/#3").unwrap(),
            BuildRef::Number("deploy".into(), 3)
        );
        assert!(BuildRef::parse("deploy/x").is_err());
    }
}
