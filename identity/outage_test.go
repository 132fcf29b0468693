package identity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/identity/identitytest"
)

// errDown is what an unreachable Redis answers.
var errDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func TestSharedStoreOutage(t *testing.T) {
	var down bool
	h := identitytest.NewServiceWithDeps(t, func(_ *identitytest.Harness, d *identity.Deps) {
		// The outage starts after the dealer below has signed up.
		d.Codes = switchable{real: d.Codes, down: &down}
	}, fixedCaptcha)
	auth := dealer(t, h, "13322220000", "outage passphrase")
	down = true

	ctx := ctxFromIP("10.9.9.9")
	_, err := h.Service.SendPhoneCode(ctx, identity.SendPhoneCodeInput{Channel: identity.ChannelDealer, Telephone: "13322220001", DeviceID: "d"})
	wantCode(t, err, identity.CodeUnavailable)
	_, err = h.Service.VerifyCaptcha(ctx, identity.VerifyCaptchaInput{DeviceID: "d", Answer: "4821"})
	wantCode(t, err, identity.CodeUnavailable)

	actor, err := h.Service.Authenticate(context.Background(), auth.Token)
	if err != nil {
		t.Fatalf("existing sessions must keep working: %v", err)
	}
	if _, err := h.Service.Me(identity.WithActor(ctx, actor)); err != nil {
		t.Fatalf("reads must keep working: %v", err)
	}
}

type switchable struct {
	real identity.CodeStore
	down *bool
}

func (s switchable) Take(ctx context.Context, id string, l ...identity.Limit) (time.Duration, error) {
	if *s.down {
		return 0, errDown
	}
	return s.real.Take(ctx, id, l...)
}

func (s switchable) PutIfRoom(ctx context.Context, id string, g [][]identity.Limit, k string, d []byte, ttl time.Duration) ([]time.Duration, error) {
	if *s.down {
		return nil, errDown
	}
	return s.real.PutIfRoom(ctx, id, g, k, d, ttl)
}

func (s switchable) Refund(ctx context.Context, id string, l ...identity.Limit) error {
	if *s.down {
		return errDown
	}
	return s.real.Refund(ctx, id, l...)
}

func (s switchable) Put(ctx context.Context, k string, d []byte, ttl time.Duration) error {
	if *s.down {
		return errDown
	}
	return s.real.Put(ctx, k, d, ttl)
}

func (s switchable) Check(ctx context.Context, k string, d []byte, m identity.CheckMode, n int) (identity.CheckResult, error) {
	if *s.down {
		return 0, errDown
	}
	return s.real.Check(ctx, k, d, m, n)
}
