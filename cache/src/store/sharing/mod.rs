//! The cache's side of sharing through Redis (the Redis tier itself is `crate::shared`):
//! telling the other servers about a new entry ([`tell`]), learning theirs and reading
//! a frame through Redis before rebuilding it ([`learn`]).
//!
//! Without the `redis` feature, or with no shared store configured, every method here
//! is a no-op and the cache is the single-server cache it always was.

#[cfg(feature = "redis")]
mod learn;
#[cfg(feature = "redis")]
mod tell;

use super::FrameCache;

#[cfg(not(feature = "redis"))]
mod off {
    use std::sync::Arc;

    use polars::prelude::DataFrame;

    use super::super::FrameCache;
    use crate::tier::FrameKey;
    use crate::{CacheError, Lineage, SessionKey};

    impl FrameCache {
        /// Without the `redis` feature there is nothing to learn.
        pub async fn sync_session(&self, _session: SessionKey) -> Result<(), CacheError> {
            Ok(())
        }

        pub(in crate::store) async fn adopt_shared(&self, _key: FrameKey) -> Result<bool, CacheError> {
            Ok(false)
        }

        pub(in crate::store) async fn memo_shared(
            &self,
            _session: SessionKey,
            _lineage: &Lineage,
        ) -> Result<Option<uuid::Uuid>, CacheError> {
            Ok(None)
        }

        pub(in crate::store) async fn publish(
            &self,
            _key: FrameKey,
            _frame: Option<&Arc<DataFrame>>,
            _memo: bool,
        ) -> Result<(), CacheError> {
            Ok(())
        }

        pub(in crate::store) async fn publish_memo(
            &self,
            _key: FrameKey,
            _lineage: &Lineage,
        ) -> Result<(), CacheError> {
            Ok(())
        }

        pub(in crate::store) async fn write_through(
            &self,
            _key: FrameKey,
            _frame: Arc<DataFrame>,
            _wait: bool,
        ) {
        }

        pub(in crate::store) async fn load_shared(
            &self,
            _key: FrameKey,
        ) -> Result<Option<Arc<DataFrame>>, CacheError> {
            Ok(None)
        }

        pub(in crate::store) async fn unpublish(&self, _key: FrameKey, _lineage: Option<Lineage>) {}

        pub(in crate::store) async fn unpublish_session(&self, _session: SessionKey) {}

        pub(in crate::store) fn remove_shared_frame_later(&self, _key: FrameKey) {}

        pub(in crate::store) async fn session_alive_elsewhere(&self, _session: SessionKey) -> bool {
            false
        }

        pub(in crate::store) async fn held_elsewhere(&self, _session: SessionKey) -> u64 {
            0
        }

        pub(in crate::store) async fn report_held(&self, _session: SessionKey) {}

        pub(in crate::store) async fn report_all_held(&self) {}

        pub(in crate::store) fn may_be_shared(&self, _bytes: u64) -> bool {
            false
        }

        pub(in crate::store) async fn shared_lineage_args(
            &self,
            _session: SessionKey,
        ) -> Option<Vec<String>> {
            Some(Vec::new())
        }
    }
}

impl FrameCache {
    /// Whether this cache shares its handles through Redis (never without the `redis`
    /// feature). Its sessions must then be shared too (stayput-sessions' `redis`).
    pub fn is_shared(&self) -> bool {
        #[cfg(feature = "redis")]
        {
            self.inner.shared.is_some()
        }
        #[cfg(not(feature = "redis"))]
        {
            false
        }
    }
}
