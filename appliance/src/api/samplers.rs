//! A1111's sampler and schedule names read into the booth's samplers: the names and aliases
//! A1111 1.10 has, the old "... Karras" spellings, and what an unknown name gets.

use axum::http::StatusCode;
use keepsake_models::schedulers::{A1111Sampler, SchedulerKind};

use super::request::ApiError;

/// The schedulers (noise schedules) as A1111 lists them: (name, label).
pub const SCHEDULERS: [(&str, &str); 2] = [("automatic", "Automatic"), ("karras", "Karras")];

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

/// A1111's sampler and scheduler names to ours: (kind, sampler name, scheduler name).
pub fn resolve_sampler(sampler: Option<&str>, scheduler: Option<&str>) -> Result<(SchedulerKind, String, String), ApiError> {
    let mut sampler = sampler.map(str::trim).filter(|s| !s.is_empty()).unwrap_or("Euler a").to_string();
    let mut scheduler = scheduler.map(str::trim).filter(|s| !s.is_empty()).unwrap_or("automatic").to_ascii_lowercase();
    // The names before A1111 1.9 carried the schedule: "DPM++ 2M Karras".
    if let Some(base) = sampler.strip_suffix(" Karras") {
        sampler = base.to_string();
        scheduler = "karras".into();
    }
    let named = |a: &A1111Sampler| a.name.eq_ignore_ascii_case(&sampler) || a.aliases.iter().any(|n| n.eq_ignore_ascii_case(&sampler));
    let Some(kind) = SchedulerKind::ALL.into_iter().find(|k| named(&k.a1111())) else {
        let names: Vec<&str> = SchedulerKind::ALL.iter().map(|k| k.a1111().name).collect();
        // A sampler A1111 has but this booth does not is a value it cannot take (422); a name
        // A1111 does not know either gets A1111's own answer, 404 "Sampler not found".
        return Err(if A1111_SAMPLERS.iter().any(|n| n.eq_ignore_ascii_case(&sampler)) {
            ApiError::field("sampler_name", format!("{sampler:?} is not available here; use one of {names:?}"))
        } else {
            ApiError::status(
                StatusCode::NOT_FOUND,
                "HTTPException",
                format!("Sampler not found: {sampler:?} is no A1111 sampler; use one of {names:?} (/sdapi/v1/samplers)"),
            )
        });
    };
    let a = kind.a1111();
    if scheduler != "automatic" && scheduler != a.schedule {
        return Err(if SCHEDULERS.iter().any(|(n, _)| *n == scheduler) {
            ApiError::field("scheduler", format!("{} runs only with its own schedule here: send \"automatic\"", a.name))
        } else {
            ApiError::field("scheduler", format!("{scheduler:?} is not available; use \"automatic\" or \"karras\" (DPM++ 2M)"))
        });
    }
    Ok((kind, a.name.to_string(), a.schedule.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samplers_and_schedulers_are_read_as_a1111_spells_them() {
        let ok = |s: Option<&str>, sc: Option<&str>| resolve_sampler(s, sc).map(|(k, n, sc)| (k, n, sc)).ok();
        assert_eq!(ok(None, None), Some((SchedulerKind::EulerAncestral, "Euler a".into(), "automatic".into())));
        assert_eq!(ok(Some("DPM++ 2M"), Some("Karras")), Some((SchedulerKind::DpmPp2mKarras, "DPM++ 2M".into(), "karras".into())));
        assert_eq!(ok(Some("DPM++ 2M Karras"), None), Some((SchedulerKind::DpmPp2mKarras, "DPM++ 2M".into(), "karras".into())));
        assert_eq!(ok(Some("dpm++ 2m"), Some("automatic")).unwrap().2, "karras");
        assert_eq!(ok(Some("k_euler"), None).unwrap().0, SchedulerKind::Euler);
        assert!(matches!(resolve_sampler(Some("Heun"), None), Err(ApiError::Invalid(_))));
        assert!(matches!(resolve_sampler(Some("Nonesuch"), None), Err(ApiError::Status(StatusCode::NOT_FOUND, ..))));
        assert!(resolve_sampler(Some("Euler a"), Some("karras")).is_err());
        assert!(resolve_sampler(Some("DDIM"), Some("exponential")).is_err());
    }
}
