//! [`KeptFiles`]: files kept beside the cache that a recipe reads its frames back from
//! (an app's uploads), whose lifetime the cache decides.

use std::collections::HashSet;

use crate::SessionKey;

/// Files kept beside the cache that one recipe reads its frames back from: an app's
/// uploads, say (`stayput-data`'s `Uploads`). The cache decides when they go: a
/// session's files when the session ends here and lives on nowhere else, and, on each
/// idle purge, the files that no frame's lineage names any more
/// ([`crate::FrameCacheBuilder::kept_files`]).
pub trait KeptFiles: Send + Sync + 'static {
    /// The recipe whose frames are read from these files. Every server reads them from
    /// the files themselves, so the cache does not write those frames to Redis.
    fn recipe(&self) -> &str;

    /// Adds to `named` the files a lineage's arguments (`args`, its JSON) name.
    fn named_in(&self, args: &str, named: &mut HashSet<String>);

    /// The sessions this server keeps files for.
    fn sessions(&self) -> HashSet<SessionKey>;

    /// Removes `session`'s files: the session ended, here and everywhere else.
    fn remove_session(&self, session: SessionKey);

    /// Removes the files no lineage names (`named`), except those of the sessions in
    /// `keep` (whose lineages could not be read). Returns how many went.
    fn sweep(&self, named: &HashSet<String>, keep: &HashSet<SessionKey>) -> usize;
}
