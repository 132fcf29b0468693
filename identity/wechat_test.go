package identity_test

import (
	"context"
	"testing"

	"github.com/carcity/identity/identity"
	"github.com/carcity/identity/identity/identitytest"
)

// fakeWeChat answers like WeChat for known codes.
type fakeWeChat struct {
	openIDs map[string]string // wx.login code -> openId
	phones  map[string]string // getPhoneNumber code -> phone
}

func (f fakeWeChat) Code2Session(_ context.Context, code string) (identity.WeChatSession, error) {
	if id, ok := f.openIDs[code]; ok {
		return identity.WeChatSession{OpenID: id}, nil
	}
	return identity.WeChatSession{}, identity.Ef(identity.CodeValidation, "微信登录凭证无效")
}

func (f fakeWeChat) PhoneNumber(_ context.Context, code string) (string, error) {
	if p, ok := f.phones[code]; ok {
		return p, nil
	}
	return "", identity.Ef(identity.CodeValidation, "微信登录凭证无效")
}

func TestWeChatLogin(t *testing.T) {
	wx := fakeWeChat{
		openIDs: map[string]string{"js-1": "wx-open-1", "js-2": "wx-open-1"},
		phones:  map[string]string{"btn-1": "+86 13344445555"},
	}
	h := identitytest.NewServiceWithDeps(t, func(_ *identitytest.Harness, d *identity.Deps) { d.WeChat = wx })
	ctx := ctxFromIP("10.2.0.1")

	login, err := h.Service.LoginWithWeChat(ctx, identity.WeChatLoginInput{Code: "js-1"})
	if err != nil {
		t.Fatal(err)
	}
	if login.Ticket == "" || login.Auth != nil {
		t.Fatalf("first login = %+v", login)
	}

	t.Run("a client-sent openId is refused once WeChat login is configured", func(t *testing.T) {
		_, err := h.Service.SendPhoneCode(ctx, identity.SendPhoneCodeInput{Channel: identity.ChannelCustomer, Telephone: "13344440000", OpenID: "forged"})
		wantCode(t, err, identity.CodeValidation)
	})
	t.Run("except in legacy REST mode", func(t *testing.T) {
		legacy := identity.WithRequest(ctx, identity.Request{IP: "10.2.0.1", Legacy: true})
		if _, err := h.Service.SendPhoneCode(legacy, identity.SendPhoneCodeInput{Channel: identity.ChannelCustomer, Telephone: "13344440001", OpenID: "legacy-client"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an SMS code verified with the ticket binds WeChat's openId", func(t *testing.T) {
		if _, err := h.Service.SendPhoneCode(ctx, identity.SendPhoneCodeInput{Channel: identity.ChannelAgent, Telephone: "13344446666", WeChatTicket: login.Ticket}); err != nil {
			t.Fatal(err)
		}
		v, err := h.Service.VerifyPhoneCode(ctx, identity.VerifyPhoneCodeInput{
			Channel: identity.ChannelAgent, Telephone: "13344446666", WeChatTicket: login.Ticket, Code: h.SMS.LastCode(t, "13344446666"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if v.Auth.User.OpenID == nil || *v.Auth.User.OpenID != "wx-open-1" {
			t.Fatalf("bound openId = %v", v.Auth.User.OpenID)
		}
		again, err := h.Service.LoginWithWeChat(ctx, identity.WeChatLoginInput{Code: "js-2"})
		if err != nil || again.Auth == nil || again.Auth.User.Telephone != "13344446666" {
			t.Fatalf("returning login = %+v, %v", again, err)
		}
	})
	t.Run("the phone WeChat verified signs in and takes the openId", func(t *testing.T) {
		auth, err := h.Service.LoginWithWeChatPhone(ctx, identity.WeChatPhoneInput{Channel: identity.ChannelCustomer, Ticket: login.Ticket, Code: "btn-1"})
		if err != nil {
			t.Fatal(err)
		}
		if auth.User.Telephone != "13344445555" || *auth.User.OpenID != "wx-open-1" {
			t.Fatalf("phone login = %+v", auth.User)
		}
	})
	t.Run("an unknown ticket is refused", func(t *testing.T) {
		_, err := h.Service.LoginWithWeChatPhone(ctx, identity.WeChatPhoneInput{Channel: identity.ChannelCustomer, Ticket: "nope", Code: "btn-1"})
		wantCode(t, err, identity.CodeValidation)
	})
	t.Run("an invalid wx.login code is a validation error", func(t *testing.T) {
		_, err := h.Service.LoginWithWeChat(ctx, identity.WeChatLoginInput{Code: "bad"})
		wantCode(t, err, identity.CodeValidation)
	})
}
