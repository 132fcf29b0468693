package redis

// PerSlot makes s send one script call per limit group, as it does on a
// cluster, so that path is tested on a single server too.
func PerSlot(s *Store) *Store {
	s.perSlot = true
	return s
}
