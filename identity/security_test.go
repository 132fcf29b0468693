package identity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/carcity/identity/ent/accountevent"
	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/identity/identitytest"
)

func ctxFromIP(ip string) context.Context {
	return identity.WithRequest(context.Background(), identity.Request{IP: ip})
}

func wantCode(t *testing.T, err error, code identity.Code) {
	t.Helper()
	if identity.CodeOf(err) != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

// dealer registers a dealer directly through the service.
func dealer(t *testing.T, h *identitytest.Harness, phone, password string) *identity.AuthPayload {
	t.Helper()
	ctx := ctxFromIP("10.0.0.1")
	if _, err := h.Service.SendCaptcha(ctx, identity.SendCaptchaInput{DeviceID: "dev-" + phone}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Service.SendPhoneCode(ctx, identity.SendPhoneCodeInput{Channel: identity.ChannelDealer, Telephone: phone, DeviceID: "dev-" + phone}); err != nil {
		t.Fatal(err)
	}
	auth, err := h.Service.Register(ctx, identity.RegisterInput{
		DeviceID: "dev-" + phone, Telephone: phone, Code: h.SMS.LastCode(t, phone), Captcha: "4821", Password: password,
	})
	if err != nil {
		t.Fatal(err)
	}
	return auth
}

func fixedCaptcha(c *identity.Config) { c.CaptchaTestCode = "4821" }

func TestLoginLocksAfterFiveFailures(t *testing.T) {
	h := identitytest.NewService(t, fixedCaptcha)
	dealer(t, h, "13311110000", "right passphrase 1")
	ctx := ctxFromIP("10.0.0.2")
	for range 5 {
		_, err := h.Service.Login(ctx, identity.LoginInput{Telephone: "13311110000", Password: "wrong passphrase"})
		wantCode(t, err, identity.CodeCredentials)
	}
	_, err := h.Service.Login(ctx, identity.LoginInput{Telephone: "13311110000", Password: "right passphrase 1"})
	wantCode(t, err, identity.CodeRateLimited)
	var e *identity.Error
	if !errors.As(err, &e) || e.RetryAfter <= 0 || e.RetryAfter > 15*time.Minute {
		t.Fatalf("retry after = %v", err)
	}
	if !h.StoresFollowClock {
		return
	}
	h.Clock.Advance(15*time.Minute + time.Second)
	if _, err := h.Service.Login(ctx, identity.LoginInput{Telephone: "13311110000", Password: "right passphrase 1"}); err != nil {
		t.Fatalf("login after the window: %v", err)
	}
}

func TestSuccessfulLoginsDoNotCountAsFailures(t *testing.T) {
	h := identitytest.NewService(t, fixedCaptcha)
	dealer(t, h, "13311110001", "right passphrase 2")
	for range 8 {
		if _, err := h.Service.Login(ctxFromIP("10.0.0.3"), identity.LoginInput{Telephone: "13311110001", Password: "right passphrase 2"}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestManyCodesFromOneIPRequireACaptcha(t *testing.T) {
	h := identitytest.NewService(t, fixedCaptcha, func(c *identity.Config) { c.SendPerIP = 3 })
	ctx := ctxFromIP("100.64.0.9")
	send := func(i int, captcha string) error {
		_, err := h.Service.SendPhoneCode(ctx, identity.SendPhoneCodeInput{
			Channel: identity.ChannelDealer, Telephone: "1331111100" + string(rune('0'+i)), DeviceID: "carrier-nat", Captcha: captcha,
		})
		return err
	}
	for i := range 3 {
		if err := send(i, ""); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, send(3, ""), identity.CodeCaptchaRequired)
	wantCode(t, send(4, "9999"), identity.CodeCaptchaInvalid)
	if _, err := h.Service.SendCaptcha(ctx, identity.SendCaptchaInput{DeviceID: "carrier-nat"}); err != nil {
		t.Fatal(err)
	}
	if err := send(5, "4821"); err != nil {
		t.Fatalf("with a valid captcha: %v", err)
	}
	// The code sent past the captcha was stored with it.
	if _, err := h.Service.VerifyPhoneCode(ctx, identity.VerifyPhoneCodeInput{
		Channel: identity.ChannelDealer, Telephone: "13311111005", DeviceID: "carrier-nat", Code: h.SMS.LastCode(t, "13311111005"),
	}); err != nil {
		t.Fatalf("the code sent with a valid captcha: %v", err)
	}
	if _, err := h.Service.SendPhoneCode(ctxFromIP("100.64.0.10"), identity.SendPhoneCodeInput{
		Channel: identity.ChannelDealer, Telephone: "13311111099", DeviceID: "other",
	}); err != nil {
		t.Fatalf("another IP is not affected: %v", err)
	}
}

func TestAFailedDeliveryDoesNotCountAgainstTheCaps(t *testing.T) {
	h := identitytest.NewService(t)
	h.SMS.Fail = identity.E(identity.CodeSMSUnavailable)
	in := identity.SendPhoneCodeInput{Channel: identity.ChannelCustomer, Telephone: "13311112000", OpenID: "o"}
	_, err := h.Service.SendPhoneCode(ctxFromIP("10.1.1.1"), in)
	wantCode(t, err, identity.CodeSMSUnavailable)
	h.SMS.Fail = nil
	if _, err := h.Service.SendPhoneCode(ctxFromIP("10.1.1.1"), in); err != nil {
		t.Fatalf("the failed send still blocks the phone: %v", err)
	}
}

func TestPasswordChangeNotifiesAndIsAudited(t *testing.T) {
	h := identitytest.NewService(t, fixedCaptcha)
	auth := dealer(t, h, "13311113000", "first passphrase!")
	actor, err := h.Service.Authenticate(context.Background(), auth.Token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := identity.WithActor(ctxFromIP("203.0.113.7"), actor)
	_, err = h.Service.ResetPassword(ctx, identity.ResetPasswordInput{OldPassword: "first passphrase!", NewPassword: "qwertyuiop"})
	wantCode(t, err, identity.CodeWeakPassword)
	if _, err := h.Service.ResetPassword(ctx, identity.ResetPasswordInput{OldPassword: "first passphrase!", NewPassword: "second passphrase!"}); err != nil {
		t.Fatal(err)
	}
	sent := h.SMS.Sent()
	last := sent[len(sent)-1]
	if last.Purpose != identity.SMSPurposeNotice || last.Telephone != "13311113000" {
		t.Fatalf("last SMS = %+v", last)
	}
	ev, err := h.DB.AccountEvent.Query().Where(accountevent.ActionEQ(accountevent.ActionPASSWORD_CHANGED)).Only(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ev.IP != "203.0.113.7" || ev.ActorID == nil || *ev.ActorID != auth.User.ID {
		t.Fatalf("event = %+v", ev)
	}
	if err := h.DB.AccountEvent.DeleteOne(ev).Exec(context.Background()); err == nil {
		t.Fatal("the audit log accepted a deletion")
	}
}

func TestSessionsExpire(t *testing.T) {
	h := identitytest.NewService(t, fixedCaptcha, func(c *identity.Config) {
		c.SessionIdle = time.Hour
		c.SessionTTL = 3 * time.Hour
	})
	auth := dealer(t, h, "13311114000", "session passphrase")
	ctx := context.Background()
	for range 4 {
		h.Clock.Advance(50 * time.Minute)
		if _, err := h.Service.Authenticate(ctx, auth.Token); err != nil && h.Clock.Now().Before(auth.ExpiresAt) {
			t.Fatalf("active session refused: %v", err)
		}
	}
	h.Clock.Advance(time.Hour)
	_, err := h.Service.Authenticate(ctx, auth.Token)
	wantCode(t, err, identity.CodeUnauthenticated)

	idle := dealer(t, h, "13311114001", "session passphrase")
	h.Clock.Advance(61 * time.Minute)
	_, err = h.Service.Authenticate(ctx, idle.Token)
	wantCode(t, err, identity.CodeUnauthenticated)
}

func TestAdminsSignInWithTheirPasswordOnly(t *testing.T) {
	h := identitytest.NewService(t)
	ctx := ctxFromIP("10.4.0.1")
	if err := h.Service.EnsureAdmin(ctx, "13900000001", "admin passphrase 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Service.SendPhoneCode(ctx, identity.SendPhoneCodeInput{Channel: identity.ChannelCustomer, Telephone: "13900000001", OpenID: "o"}); err != nil {
		t.Fatal(err)
	}
	_, err := h.Service.VerifyPhoneCode(ctx, identity.VerifyPhoneCodeInput{Channel: identity.ChannelCustomer, Telephone: "13900000001", OpenID: "o", Code: h.SMS.LastCode(t, "13900000001")})
	wantCode(t, err, identity.CodeForbidden)

	if err := h.Service.EnsureAdmin(ctx, "13900000002", "admin passphrase 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Service.SendPhoneCode(ctx, identity.SendPhoneCodeInput{Channel: identity.ChannelDealer, Telephone: "13900000002", DeviceID: "d"}); err != nil {
		t.Fatal(err)
	}
	v, err := h.Service.VerifyPhoneCode(ctx, identity.VerifyPhoneCodeInput{Channel: identity.ChannelDealer, Telephone: "13900000002", DeviceID: "d", Code: h.SMS.LastCode(t, "13900000002")})
	if err != nil || v.Auth != nil {
		t.Fatalf("dealer-channel verification of an admin phone = %+v, %v; want no session", v, err)
	}
}

func TestWrongOldPasswordsCountAsFailedLogins(t *testing.T) {
	h := identitytest.NewService(t, fixedCaptcha)
	auth := dealer(t, h, "13311115000", "reset passphrase!")
	actor, err := h.Service.Authenticate(context.Background(), auth.Token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := identity.WithActor(ctxFromIP("10.4.0.2"), actor)
	for range 5 {
		_, err := h.Service.ResetPassword(ctx, identity.ResetPasswordInput{OldPassword: "guess guess guess", NewPassword: "another passphrase"})
		wantCode(t, err, identity.CodeCredentials)
	}
	_, err = h.Service.ResetPassword(ctx, identity.ResetPasswordInput{OldPassword: "reset passphrase!", NewPassword: "another passphrase"})
	wantCode(t, err, identity.CodeRateLimited)
}
