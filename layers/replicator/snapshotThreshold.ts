/**
 * Applied entries between metadata snapshots unless configured. A snapshot encodes the whole
 * store, so its cost grows with the namespace: taken every 1,000 entries it doubled the CPU of a
 * create by 100k files (bench:namespace). The log behind a snapshot is what a briefly lagging
 * follower catches up from without one. etcd's default is 100 000.
 */
export const DEFAULT_SNAPSHOT_THRESHOLD = 10_000
