//! A1111's sampler and schedule names read into the booth's samplers and schedules: the names
//! and aliases A1111 1.10 has, the old "... Karras" spellings, and what an unknown name gets.

use axum::http::StatusCode;
use keepsake_models::schedulers::{Schedule, SchedulerKind};

use super::request::ApiError;

/// Every sampler A1111 1.10 has (with the k-diffusion names its API also reads).
const A1111_SAMPLERS: [&str; 20] = [
    "DPM++ 2M",
    "DPM++ SDE",
    "DPM++ 2M SDE",
    "DPM++ 2M SDE Heun",
    "DPM++ 2S a",
    "DPM++ 3M SDE",
    "Euler a",
    "Euler",
    "LMS",
    "Heun",
    "DPM2",
    "DPM2 a",
    "DPM fast",
    "DPM adaptive",
    "Restart",
    "DDIM",
    "DDIM CFG++",
    "PLMS",
    "UniPC",
    "LCM",
];

/// Every schedule A1111 1.10 has.
const A1111_SCHEDULES: [&str; 12] = [
    "automatic",
    "uniform",
    "karras",
    "exponential",
    "polyexponential",
    "sgm_uniform",
    "kl_optimal",
    "align_your_steps",
    "simple",
    "normal",
    "ddim",
    "beta",
];

/// A request's sampler, as A1111 names it, and its schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedSampler {
    pub kind: SchedulerKind,
    pub schedule: Schedule,
    /// The sampler's A1111 name ("DPM++ 2M").
    pub name: String,
    /// The schedule it runs with, as the API reports it ("karras"; "automatic" where the
    /// sampler has none of its own).
    pub schedule_name: String,
}

/// The schedule type an infotext names ("Karras"), as A1111 writes it: the one asked for, or
/// the sampler's own for "Automatic".
pub fn schedule_type(kind: SchedulerKind, schedule: Schedule) -> Option<Schedule> {
    match schedule {
        Schedule::Automatic => kind.a1111().schedule,
        Schedule::Uniform | Schedule::Karras | Schedule::Exponential | Schedule::SgmUniform => Some(schedule),
    }
}

/// A1111's sampler and scheduler names to ours.
pub fn resolve_sampler(sampler: Option<&str>, scheduler: Option<&str>) -> Result<ResolvedSampler, ApiError> {
    let sampler = sampler.map(str::trim).filter(|s| !s.is_empty()).unwrap_or("Euler a");
    let names: Vec<&str> = SchedulerKind::ALL.iter().map(|k| k.a1111().name).collect();
    // The names before A1111 1.9 carried the schedule: "DPM++ 2M Karras".
    let (kind, named) = SchedulerKind::parse_with_schedule(sampler).map_err(|_| {
        // A sampler A1111 has but this booth does not is a value it cannot take (422); a name
        // A1111 does not know either gets A1111's own answer, 404 "Sampler not found".
        if A1111_SAMPLERS.iter().any(|n| n.eq_ignore_ascii_case(sampler)) {
            ApiError::field("sampler_name", format!("{sampler:?} is not available here; use one of {names:?}"))
        } else {
            ApiError::status(
                StatusCode::NOT_FOUND,
                "HTTPException",
                format!("Sampler not found: {sampler:?} is no A1111 sampler; use one of {names:?} (/sdapi/v1/samplers)"),
            )
        }
    })?;
    let asked = scheduler.map(str::trim).filter(|s| !s.is_empty()).unwrap_or("automatic");
    let schedule = match Schedule::parse(asked) {
        Some(Schedule::Automatic) => named,
        Some(schedule) => schedule,
        None => {
            let ours: Vec<&str> = Schedule::ALL.iter().map(|s| s.name()).collect();
            return Err(if A1111_SCHEDULES.iter().any(|n| n.eq_ignore_ascii_case(asked)) {
                ApiError::field("scheduler", format!("{asked:?} is not available here; use one of {ours:?}"))
            } else {
                ApiError::field("scheduler", format!("{asked:?} is no A1111 schedule; use one of {ours:?} (/sdapi/v1/schedulers)"))
            });
        }
    };
    kind.implementation(schedule).map_err(|e| ApiError::field("scheduler", e))?;
    Ok(ResolvedSampler {
        kind,
        schedule,
        name: kind.a1111().name.to_string(),
        schedule_name: schedule_type(kind, schedule).map_or("automatic", Schedule::name).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samplers_and_schedulers_are_read_as_a1111_spells_them() {
        let ok = |s: Option<&str>, sc: Option<&str>| resolve_sampler(s, sc).map(|r| (r.kind, r.schedule, r.name, r.schedule_name)).ok();
        assert_eq!(ok(None, None), Some((SchedulerKind::EulerAncestral, Schedule::Automatic, "Euler a".into(), "automatic".into())));
        assert_eq!(
            ok(Some("DPM++ 2M"), Some("Karras")),
            Some((SchedulerKind::DpmPp2m, Schedule::Karras, "DPM++ 2M".into(), "karras".into()))
        );
        assert_eq!(ok(Some("DPM++ 2M Karras"), None), Some((SchedulerKind::DpmPp2m, Schedule::Karras, "DPM++ 2M".into(), "karras".into())));
        assert_eq!(ok(Some("dpm++ 2m"), Some("automatic")).unwrap().3, "karras");
        assert_eq!(ok(Some("k_euler"), None).unwrap().0, SchedulerKind::Euler);
        assert_eq!(ok(Some("Heun"), None).unwrap().3, "automatic");
        assert_eq!(ok(Some("DPM2 a"), None).unwrap().3, "karras");
        assert_eq!(ok(Some("DPM++ 2M SDE"), None).unwrap().3, "exponential");
        assert_eq!(ok(Some("k_dpm_2_a"), Some("SGM Uniform")).unwrap().1, Schedule::SgmUniform);
        assert_eq!(ok(Some("Euler a"), Some("karras")).unwrap().1, Schedule::Karras);
        assert!(matches!(resolve_sampler(Some("DPM fast"), None), Err(ApiError::Invalid(_))));
        assert!(matches!(resolve_sampler(Some("Nonesuch"), None), Err(ApiError::Status(StatusCode::NOT_FOUND, ..))));
        assert!(matches!(resolve_sampler(Some("DDIM"), Some("exponential")), Err(ApiError::Invalid(_))));
        assert!(matches!(resolve_sampler(Some("Euler"), Some("beta")), Err(ApiError::Invalid(_))));
        assert!(matches!(resolve_sampler(Some("Euler"), Some("cosine")), Err(ApiError::Invalid(_))));
        for kind in SchedulerKind::ALL {
            let a = kind.a1111();
            for name in std::iter::once(a.name).chain(a.aliases.iter().copied()) {
                assert_eq!(ok(Some(name), None).map(|r| r.0), Some(kind), "{name}");
            }
        }
    }
}
