//! The migration runner's rule, for both backends: apply the migrations a
//! database has not had yet, in order, and refuse a database whose schema is
//! newer than this server (an older binary must not write to it).

/// The migration that adds credit blocks (SPEC §6), after which each backend
/// indexes the blocks already stored ([`super::blocks`]).
pub(crate) const BLOCKS: i64 = 2;

/// The migrations to apply to a database at version `applied`, numbered from
/// 1; an error when the database is newer than `migrations` knows.
pub(crate) fn pending(
    applied: i64,
    migrations: &'static [&'static str],
) -> Result<impl Iterator<Item = (i64, &'static str)>, String> {
    let known = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    if applied > known {
        return Err(format!(
            "its schema is at version {applied}, newer than this server's {known}: \
             run a newer carbon-tracker-server"
        ));
    }
    Ok((1_i64..)
        .zip(migrations.iter().copied())
        .skip_while(move |(version, _)| *version <= applied))
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: &[&str] = &["a", "b", "c"];

    #[test]
    fn pending_migrations() {
        let versions =
            |applied| pending(applied, THREE).map(|p| p.map(|(v, _)| v).collect::<Vec<_>>());
        assert_eq!(versions(0), Ok(vec![1, 2, 3]));
        assert_eq!(versions(2), Ok(vec![3]));
        assert_eq!(versions(3), Ok(vec![]));
        assert!(versions(4).is_err_and(|e| e.contains("version 4, newer than this server's 3")));
    }
}
