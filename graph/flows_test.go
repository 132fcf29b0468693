package graph_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carcity/identity/identity"
)

const (
	sendCode   = `mutation($in: SendPhoneCodeInput!) { sendPhoneCode(input: $in) { expiresIn resendAfter } }`
	verifyCode = `mutation($in: VerifyPhoneCodeInput!) { verifyPhoneCode(input: $in) { verified auth { token user { id telephone kind } } } }`
	captchaQ   = `mutation($d: String!) { sendCaptcha(input: {deviceId: $d}) { id imageUrl dataUrl } }`
	registerQ  = `mutation($in: RegisterInput!) { register(input: $in) { token user { id telephone kind nickName gender favicon } } }`
	loginQ     = `mutation($t: String!, $p: String!) { login(input: {telephone: $t, password: $p}) { token user { id telephone } } }`
)

type authData struct {
	Token string `json:"token"`
	User  struct {
		ID        string `json:"id"`
		Telephone string `json:"telephone"`
		Kind      string `json:"kind"`
	} `json:"user"`
}

// signIn verifies phone on a mini-program channel and returns the session.
func (e *env) signIn(t *testing.T, channel, phone, openID string) authData {
	t.Helper()
	e.do(t, "", sendCode, map[string]any{"in": map[string]any{"channel": channel, "telephone": phone, "openId": openID}}).must(t, nil)
	var out struct {
		V struct {
			Verified bool      `json:"verified"`
			Auth     *authData `json:"auth"`
		} `json:"verifyPhoneCode"`
	}
	normalized, _ := identity.NormalizePhone(phone)
	e.do(t, "", verifyCode, map[string]any{"in": map[string]any{
		"channel": channel, "telephone": phone, "openId": openID, "code": e.SMS.LastCode(t, normalized),
	}}).must(t, &out)
	if !out.V.Verified || out.V.Auth == nil || out.V.Auth.Token == "" {
		t.Fatalf("verification did not sign in: %+v", out)
	}
	return *out.V.Auth
}

// registerDealer runs the documented sequence: captcha, code, register.
func (e *env) registerDealer(t *testing.T, phone, device, password string) authData {
	t.Helper()
	answer := e.captchaAnswer(t, device)
	e.do(t, "", sendCode, map[string]any{"in": map[string]any{"channel": "DEALER", "telephone": phone, "deviceId": device}}).must(t, nil)
	var out struct {
		R authData `json:"register"`
	}
	e.do(t, "", registerQ, map[string]any{"in": map[string]any{
		"deviceId": device, "telephone": phone, "code": e.SMS.LastCode(t, phone), "captcha": answer, "password": password,
	}}).must(t, &out)
	return out.R
}

// captchaAnswer issues a captcha; the harness is configured with a fixed answer.
func (e *env) captchaAnswer(t *testing.T, device string) string {
	t.Helper()
	e.do(t, "", captchaQ, map[string]any{"d": device}).must(t, nil)
	return testCaptcha
}

const testCaptcha = "4821"

func (e *env) admin(t *testing.T) string {
	t.Helper()
	if err := e.Service.EnsureAdmin(context.Background(), "13900000000", "admin-Pa55word!"); err != nil {
		t.Fatal(err)
	}
	var out struct {
		L authData `json:"login"`
	}
	e.do(t, "", loginQ, map[string]any{"t": "13900000000", "p": "admin-Pa55word!"}).must(t, &out)
	return out.L.Token
}

func TestCustomerSignsInWithPhoneCode(t *testing.T) {
	e := newEnv(t)
	auth := e.signIn(t, "CUSTOMER", "+86 138-0013-8000", "openid-c1")
	if auth.User.Telephone != "13800138000" || auth.User.Kind != "CUSTOMER" {
		t.Fatalf("unexpected user %+v", auth.User)
	}
	var me struct {
		Me struct{ Telephone string } `json:"me"`
	}
	e.do(t, auth.Token, `{ me { telephone } }`, nil).must(t, &me)
	if me.Me.Telephone != "13800138000" {
		t.Fatalf("me = %+v", me)
	}

	t.Run("the same openId verifying again reuses the account", func(t *testing.T) {
		e.needClock(t)
		e.Clock.Advance(2 * time.Minute)
		again := e.signIn(t, "CUSTOMER", "13800138000", "openid-c1")
		if again.User.ID != auth.User.ID {
			t.Fatalf("new account %s, want %s", again.User.ID, auth.User.ID)
		}
	})
	t.Run("logout revokes the token", func(t *testing.T) {
		e.do(t, auth.Token, `mutation { logout }`, nil).must(t, nil)
		e.do(t, auth.Token, `{ me { id } }`, nil).wantCode(t, "UNAUTHENTICATED")
	})
}

func TestPhoneCodeFailures(t *testing.T) {
	e := newEnv(t)
	send := func(phone, openID string) result {
		return e.do(t, "", sendCode, map[string]any{"in": map[string]any{"channel": "CUSTOMER", "telephone": phone, "openId": openID}})
	}
	verify := func(phone, openID, code string) result {
		return e.do(t, "", verifyCode, map[string]any{"in": map[string]any{"channel": "CUSTOMER", "telephone": phone, "openId": openID, "code": code}})
	}
	wrong := func(code string) string { return fmt.Sprintf("%06d", (int(code[5]-'0')+1)%10) }

	t.Run("a malformed phone is a validation error", func(t *testing.T) {
		for _, phone := range []string{"12345", "12800138000", "1380013800a", "+1 415 555 0100", ""} {
			r := send(phone, "o")
			r.wantCode(t, "VALIDATION")
			if r.Errors[0].Extensions["errCode"] != float64(2001) {
				t.Fatalf("errCode = %v", r.Errors[0].Extensions["errCode"])
			}
		}
	})
	t.Run("a wrong code is refused with 2016", func(t *testing.T) {
		send("13800000001", "o1").must(t, nil)
		r := verify("13800000001", "o1", wrong(e.SMS.LastCode(t, "13800000001")))
		r.wantCode(t, "OTP_INVALID")
		if r.Errors[0].Extensions["errCode"] != float64(2016) || r.Errors[0].Message != "手机验证码错误" {
			t.Fatalf("got %+v", r.Errors[0])
		}
	})
	t.Run("a code is bound to the openId that asked for it", func(t *testing.T) {
		send("13800000002", "o2").must(t, nil)
		verify("13800000002", "someone-else", e.SMS.LastCode(t, "13800000002")).wantCode(t, "OTP_INVALID")
	})
	t.Run("the sixth attempt fails even with the right code", func(t *testing.T) {
		send("13800000003", "o3").must(t, nil)
		code := e.SMS.LastCode(t, "13800000003")
		for range 5 {
			verify("13800000003", "o3", wrong(code)).wantCode(t, "OTP_INVALID")
		}
		verify("13800000003", "o3", code).wantCode(t, "OTP_INVALID")
	})
	t.Run("a code is accepted once", func(t *testing.T) {
		send("13800000004", "o4").must(t, nil)
		code := e.SMS.LastCode(t, "13800000004")
		verify("13800000004", "o4", code).must(t, nil)
		verify("13800000004", "o4", code).wantCode(t, "OTP_INVALID")
	})
	t.Run("resending within 60 seconds is rate limited with a retry delay", func(t *testing.T) {
		send("13800000005", "o5").must(t, nil)
		r := send("13800000005", "o5")
		r.wantCode(t, "RATE_LIMITED")
		if ra, _ := r.Errors[0].Extensions["retryAfter"].(float64); ra <= 0 || ra > 60 {
			t.Fatalf("retryAfter = %v", r.Errors[0].Extensions["retryAfter"])
		}
	})
	t.Run("an expired code is refused", func(t *testing.T) {
		e.needClock(t)
		send("13800000006", "o6").must(t, nil)
		code := e.SMS.LastCode(t, "13800000006")
		e.Clock.Advance(5*time.Minute + time.Second)
		verify("13800000006", "o6", code).wantCode(t, "OTP_INVALID")
	})
	t.Run("a phone gets at most 5 codes an hour", func(t *testing.T) {
		e.needClock(t)
		for i := range 5 {
			send("13800000007", fmt.Sprintf("h%d", i)).must(t, nil)
			e.Clock.Advance(61 * time.Second)
		}
		send("13800000007", "h5").wantCode(t, "RATE_LIMITED")
	})
}

func TestDealerRegistersAndManagesAccount(t *testing.T) {
	e := newEnv(t)
	reg := e.registerDealer(t, "13700000001", "device-1", "correct horse battery")
	if reg.Token == "" || reg.User.Kind != "DEALER" {
		t.Fatalf("register = %+v", reg)
	}

	t.Run("the documented sequence verifies captcha and code first, then repeats them", func(t *testing.T) {
		device, phone := "device-2", "13700000002"
		e.captchaAnswer(t, device)
		e.do(t, "", `mutation($d: String!) { verifyCaptcha(input: {deviceId: $d, answer: "4821"}) }`, map[string]any{"d": device}).must(t, nil)
		e.do(t, "", sendCode, map[string]any{"in": map[string]any{"channel": "DEALER", "telephone": phone, "deviceId": device}}).must(t, nil)
		code := e.SMS.LastCode(t, phone)
		var v struct {
			V struct {
				Verified bool
				Auth     *authData
			} `json:"verifyPhoneCode"`
		}
		e.do(t, "", verifyCode, map[string]any{"in": map[string]any{"channel": "DEALER", "telephone": phone, "deviceId": device, "code": code}}).must(t, &v)
		if !v.V.Verified || v.V.Auth != nil {
			t.Fatalf("verify of an unregistered phone = %+v", v)
		}
		e.do(t, "", registerQ, map[string]any{"in": map[string]any{
			"deviceId": device, "telephone": phone, "code": code, "captcha": "4821", "password": "another good passphrase",
		}}).must(t, nil)
	})
	t.Run("a wrong captcha is refused and the captcha is then spent", func(t *testing.T) {
		device := "device-3"
		e.captchaAnswer(t, device)
		e.do(t, "", `mutation { verifyCaptcha(input: {deviceId: "device-3", answer: "0000"}) }`, nil).wantCode(t, "CAPTCHA_INVALID")
		e.do(t, "", `mutation { verifyCaptcha(input: {deviceId: "device-3", answer: "4821"}) }`, nil).wantCode(t, "CAPTCHA_INVALID")
	})
	t.Run("a registered phone cannot register again", func(t *testing.T) {
		e.needClock(t)
		device := "device-4"
		e.captchaAnswer(t, device)
		e.Clock.Advance(2 * time.Minute)
		e.do(t, "", sendCode, map[string]any{"in": map[string]any{"channel": "DEALER", "telephone": "13700000001", "deviceId": device}}).must(t, nil)
		e.do(t, "", registerQ, map[string]any{"in": map[string]any{
			"deviceId": device, "telephone": "13700000001", "code": e.SMS.LastCode(t, "13700000001"), "captcha": "4821", "password": "yet another passphrase",
		}}).wantCode(t, "PHONE_TAKEN")
	})
	t.Run("a common password is refused", func(t *testing.T) {
		e.do(t, "", registerQ, map[string]any{"in": map[string]any{
			"deviceId": "d", "telephone": "13700000009", "code": "123456", "captcha": "4821", "password": "password1234",
		}}).wantCode(t, "WEAK_PASSWORD")
	})
	t.Run("login with a wrong password or an unknown phone gives the same error", func(t *testing.T) {
		a := e.do(t, "", loginQ, map[string]any{"t": "13700000001", "p": "wrong password!"})
		b := e.do(t, "", loginQ, map[string]any{"t": "13799999999", "p": "wrong password!"})
		a.wantCode(t, "INVALID_CREDENTIALS")
		b.wantCode(t, "INVALID_CREDENTIALS")
		if a.Errors[0].Message != b.Errors[0].Message {
			t.Fatalf("messages differ: %q vs %q", a.Errors[0].Message, b.Errors[0].Message)
		}
	})
	t.Run("profile, avatar and password changes", func(t *testing.T) {
		var login struct {
			L authData `json:"login"`
		}
		e.do(t, "", loginQ, map[string]any{"t": "13700000001", "p": "correct horse battery"}).must(t, &login)
		tok := login.L.Token

		var up struct {
			U struct{ URL string } `json:"uploadFavicon"`
		}
		e.upload(t, tok, `mutation($file: Upload!) { uploadFavicon(file: $file) { url } }`, map[string]any{}, "a.png", pngImage(t)).must(t, &up)
		if status, body := get(t, up.U.URL); status != 200 || !strings.HasPrefix(string(body), "\x89PNG") {
			t.Fatalf("avatar fetch: %d", status)
		}
		var prof struct {
			P struct {
				NickName, Gender, Favicon string
			} `json:"updateProfile"`
		}
		e.do(t, tok, `mutation($f: String!) { updateProfile(input: {nickName: "<b>车行</b>", gender: FEMALE, favicon: $f}) { nickName gender favicon } }`,
			map[string]any{"f": up.U.URL}).must(t, &prof)
		if prof.P.NickName != "<b>车行</b>" || prof.P.Gender != "FEMALE" || prof.P.Favicon != up.U.URL {
			t.Fatalf("profile = %+v", prof)
		}
		e.do(t, tok, `mutation { updateProfile(input: {favicon: "https://evil.example/x.png"}) { id } }`, nil).wantCode(t, "VALIDATION")

		e.do(t, tok, `mutation { resetPassword(input: {oldPassword: "nope nope nope", newPassword: "brand new passphrase"}) }`, nil).wantCode(t, "INVALID_CREDENTIALS")
		e.do(t, tok, `mutation { resetPassword(input: {oldPassword: "correct horse battery", newPassword: "brand new passphrase"}) }`, nil).must(t, nil)
		e.do(t, reg.Token, `{ me { id } }`, nil).wantCode(t, "UNAUTHENTICATED") // other sessions are signed out
		e.do(t, tok, `{ me { id } }`, nil).must(t, nil)
		e.do(t, "", loginQ, map[string]any{"t": "13700000001", "p": "brand new passphrase"}).must(t, nil)

		e.Clock.Advance(2 * time.Minute)
		e.do(t, "", sendCode, map[string]any{"in": map[string]any{"channel": "DEALER", "telephone": "13700000055", "deviceId": "device-1"}}).must(t, nil)
		var ch struct {
			C struct{ Telephone string } `json:"changePhone"`
		}
		e.do(t, tok, `mutation($c: String!) { changePhone(input: {newTelephone: "13700000055", deviceId: "device-1", code: $c}) { telephone } }`,
			map[string]any{"c": e.SMS.LastCode(t, "13700000055")}).must(t, &ch)
		if ch.C.Telephone != "13700000055" {
			t.Fatalf("changePhone = %+v", ch)
		}
		e.do(t, "", loginQ, map[string]any{"t": "13700000055", "p": "brand new passphrase"}).must(t, nil)
	})
}

func TestConcurrentRegistrationCreatesOneAccount(t *testing.T) {
	e := newEnv(t)
	const n = 10
	phone, device := "13600000001", "race-device"
	e.captchaAnswer(t, device)
	e.do(t, "", sendCode, map[string]any{"in": map[string]any{"channel": "DEALER", "telephone": phone, "deviceId": device}}).must(t, nil)
	code := e.SMS.LastCode(t, phone)

	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.do(t, "", registerQ, map[string]any{"in": map[string]any{
				"deviceId": device, "telephone": phone, "code": code, "captcha": testCaptcha, "password": "race condition pass",
			}})
		}()
	}
	wg.Wait()
	ok := 0
	for _, r := range results {
		if len(r.Errors) == 0 {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d registrations succeeded, want 1: %+v", ok, results)
	}
	if n, _ := e.DB.User.Query().Count(context.Background()); n != 1 {
		t.Fatalf("%d accounts, want 1", n)
	}
}

func TestConcurrentVerificationOfOnePhoneCreatesOneAccount(t *testing.T) {
	e := newEnv(t)
	phone := "13600000002"
	e.do(t, "", sendCode, map[string]any{"in": map[string]any{"channel": "AGENT", "telephone": phone, "openId": "oc"}}).must(t, nil)
	code := e.SMS.LastCode(t, phone)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do(t, "", verifyCode, map[string]any{"in": map[string]any{"channel": "AGENT", "telephone": phone, "openId": "oc", "code": code}})
			if len(r.Errors) == 0 {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if accepted != 1 {
		t.Fatalf("the code was accepted %d times", accepted)
	}
	if n, _ := e.DB.User.Query().Count(context.Background()); n != 1 {
		t.Fatalf("%d accounts, want 1", n)
	}
}
