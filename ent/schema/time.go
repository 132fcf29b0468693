package schema

import "time"

// timeNow is the schema's default clock; the domain sets times explicitly
// where they matter, so tests control them.
func timeNow() time.Time { return time.Now().UTC() }
