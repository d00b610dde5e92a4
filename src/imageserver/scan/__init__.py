"""The watcher: walks libraries, keeps media rows current, runs the drains each tick."""
