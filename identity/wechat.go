package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/carcity/identity/ent"
	"github.com/carcity/identity/ent/user"
)

// ticketTTL is how long a WeChat ticket stands for its openId.
const ticketTTL = 10 * time.Minute

// WeChatLoginInput is the code of wx.login.
type WeChatLoginInput struct {
	Code string `json:"code" validate:"required,max=128,printable"`
}

// WeChatLogin is the result of a mini-program login. Ticket stands for the
// openId (which never comes from the client) in the phone-code calls; Auth is
// set when the openId already belongs to an account.
type WeChatLogin struct {
	Ticket string       `json:"ticket"`
	Auth   *AuthPayload `json:"auth"`
}

// LoginWithWeChat exchanges a wx.login code for a ticket, and for a session
// when the openId is bound to an account.
//
// Errors: CodeValidation, CodeRateLimited, CodeForbidden, CodeUnavailable
// (also when WeChat login is not configured).
func (s *Service) LoginWithWeChat(ctx context.Context, in WeChatLoginInput) (*WeChatLogin, error) {
	if err := check(in); err != nil {
		return nil, err
	}
	if s.wechat == nil {
		return nil, Ef(CodeUnavailable, "未配置微信登录")
	}
	sess, err := s.wechat.Code2Session(ctx, in.Code)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	ticket := base64.RawURLEncoding.EncodeToString(raw)
	if err := s.cache.Set(ctx, s.ticketKey(ticket), []byte(sess.OpenID), ticketTTL); err != nil {
		return nil, Wrap(CodeUnavailable, fmt.Errorf("storing ticket: %w", err))
	}
	out := &WeChatLogin{Ticket: ticket}
	u, err := s.db.User.Query().Where(user.OpenID(sess.OpenID)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return nil, dbError(err)
	case u.Kind != user.KindAdmin:
		if out.Auth, err = s.startSession(ctx, s.db, u); err != nil {
			return nil, dbError(err)
		}
	}
	return out, nil
}

// WeChatPhoneInput signs in with the phone WeChat verified (getPhoneNumber).
type WeChatPhoneInput struct {
	Channel Channel `json:"channel" validate:"required,oneof=CUSTOMER AGENT"`
	Ticket  string  `json:"ticket" validate:"required,max=64"`
	Code    string  `json:"code" validate:"required,max=128,printable"`
}

// LoginWithWeChatPhone binds the ticket's openId to the phone WeChat
// verified and signs in, as a verified SMS code would.
//
// Errors: CodeValidation, CodeForbidden, CodeRateLimited, CodeUnavailable.
func (s *Service) LoginWithWeChatPhone(ctx context.Context, in WeChatPhoneInput) (*AuthPayload, error) {
	if err := check(in); err != nil {
		return nil, err
	}
	if s.wechat == nil {
		return nil, Ef(CodeUnavailable, "未配置微信登录")
	}
	openID, err := s.openIDFromTicket(ctx, in.Ticket)
	if err != nil {
		return nil, err
	}
	raw, err := s.wechat.PhoneNumber(ctx, in.Code)
	if err != nil {
		return nil, err
	}
	phone, ok := NormalizePhone(raw)
	if !ok {
		return nil, Ef(CodeValidation, "仅支持中国大陆手机号")
	}
	return s.bindOpenID(ctx, phone, openID, in.Channel)
}

func (s *Service) ticketKey(ticket string) string { return "wxticket:" + s.shortHash(ticket) }

func (s *Service) openIDFromTicket(ctx context.Context, ticket string) (string, error) {
	v, found, err := s.cache.Get(ctx, s.ticketKey(ticket))
	if err != nil {
		return "", Wrap(CodeUnavailable, err)
	}
	if !found {
		return "", Invalid("wechatTicket", "微信登录已过期，请重新进入小程序")
	}
	return string(v), nil
}

// openID is who asks on a mini-program channel: the ticket's openId, or,
// when WeChat login is not configured or in legacy REST mode, the openId
// the client sent.
func (s *Service) openID(ctx context.Context, ticket, clientOpenID string) (string, error) {
	switch {
	case ticket != "":
		return s.openIDFromTicket(ctx, ticket)
	case s.wechat != nil && !RequestFrom(ctx).Legacy:
		return "", Invalid("wechatTicket", "请先通过微信登录")
	case clientOpenID == "":
		return "", Invalid("openId", fieldMessages["openId"])
	}
	return clientOpenID, nil
}
