package identity

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"testing"
)

type sqlStateError string

func (e sqlStateError) Error() string    { return "pq: " + string(e) }
func (e sqlStateError) SQLState() string { return string(e) }

func TestDatabaseOutagesAreUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want Code
	}{
		{"a broken connection", fmt.Errorf("query: %w", driver.ErrBadConn), CodeUnavailable},
		{"a refused connection", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, CodeUnavailable},
		{"a server shutting down (57P01)", sqlStateError("57P01"), CodeUnavailable},
		{"a lost connection (08006)", sqlStateError("08006"), CodeUnavailable},
		{"a syntax error (42601) is a bug", sqlStateError("42601"), CodeInternal},
		{"an unknown error is internal", errors.New("boom"), CodeInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CodeOf(dbError(tc.err)); got != tc.want {
				t.Fatalf("dbError(%v) = %s, want %s", tc.err, got, tc.want)
			}
		})
	}
}
