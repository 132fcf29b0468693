package identity_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/identity/identitytest"
)

// benchPhones hands out mainland mobiles (1[3-9] + 9 digits) never used
// before in this process: a phone may get one code per 60 s, so every
// iteration needs its own. Each harness has fresh stores (its Redis keys get
// a random prefix), so uniqueness within the process is enough.
var benchPhones = func() func() string {
	var n atomic.Uint64
	return func() string {
		i := n.Add(1) % 7e9 // 7 prefixes (13..19) x 1e9
		return fmt.Sprintf("1%d%09d", 3+i/1e9, i%1e9)
	}
}()

// BenchmarkSendAndVerifyCode measures one dealer OTP round trip on the
// harness' adapters: SendPhoneCode, then VerifyPhoneCode with the code
// read from the outbox (the phone has no account, so no session starts).
func BenchmarkSendAndVerifyCode(b *testing.B) {
	h := identitytest.NewService(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		phone := benchPhones()
		device := fmt.Sprintf("bench-device-%d", i) // the per-client cap is per device
		if _, err := h.Service.SendPhoneCode(ctx, identity.SendPhoneCodeInput{
			Channel: identity.ChannelDealer, Telephone: phone, DeviceID: device,
		}); err != nil {
			b.Fatalf("SendPhoneCode(%s): %v", phone, err)
		}
		v, err := h.Service.VerifyPhoneCode(ctx, identity.VerifyPhoneCodeInput{
			Channel: identity.ChannelDealer, Telephone: phone, DeviceID: device, Code: h.SMS.LastCode(b, phone),
		})
		if err != nil || !v.Verified {
			b.Fatalf("VerifyPhoneCode(%s) = %+v, %v", phone, v, err)
		}
	}
}

// BenchmarkAuthenticate measures the session lookup every authenticated
// request makes. The session is created once (a customer verifying a phone
// signs in); the harness clock stands still, so the loop never writes
// last_seen_at and measures the read path alone.
func BenchmarkAuthenticate(b *testing.B) {
	h := identitytest.NewService(b)
	ctx := context.Background()
	phone := benchPhones()
	const openID = "bench-openid"
	if _, err := h.Service.SendPhoneCode(ctx, identity.SendPhoneCodeInput{
		Channel: identity.ChannelCustomer, Telephone: phone, OpenID: openID,
	}); err != nil {
		b.Fatal(err)
	}
	v, err := h.Service.VerifyPhoneCode(ctx, identity.VerifyPhoneCodeInput{
		Channel: identity.ChannelCustomer, Telephone: phone, OpenID: openID, Code: h.SMS.LastCode(b, phone),
	})
	if err != nil || v.Auth == nil {
		b.Fatalf("VerifyPhoneCode = %+v, %v; want a session", v, err)
	}
	token := v.Auth.Token

	for b.Loop() {
		a, err := h.Service.Authenticate(ctx, token)
		if err != nil {
			b.Fatal(err)
		}
		if a.UserID != v.Auth.User.ID {
			b.Fatalf("Authenticate: user %d, want %d", a.UserID, v.Auth.User.ID)
		}
	}
}
