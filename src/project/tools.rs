//! Which programs this machine has: detection picks `pnpm` or `corepack pnpm`, `uv` or `pip`
//! by what the PATH holds, and names what is missing.

use std::collections::BTreeSet;
use std::path::Path;

/// The programs on a PATH (or a fixed set, for tests).
#[derive(Debug, Clone)]
pub enum Tools {
    Path(String),
    Fixed(BTreeSet<String>),
}

impl Tools {
    /// The programs on `PATH`.
    pub fn from_path(path: Option<&str>) -> Self {
        Tools::Path(path.unwrap_or_default().to_owned())
    }

    /// Exactly these programs (tests).
    pub fn fixed<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Tools::Fixed(names.into_iter().map(str::to_owned).collect())
    }

    pub fn has(&self, program: &str) -> bool {
        use std::os::unix::fs::PermissionsExt;
        match self {
            Tools::Fixed(set) => set.contains(program),
            Tools::Path(path) => path.split(':').filter(|d| !d.is_empty()).any(|dir| {
                Path::new(dir)
                    .join(program)
                    .metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            }),
        }
    }
}
