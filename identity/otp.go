package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	"github.com/carcity/identity/ent"
	"github.com/carcity/identity/ent/user"
)

// SendPhoneCodeInput asks for an SMS code. Customers and agents are known
// by their WeChat openId, dealers by their device.
type SendPhoneCodeInput struct {
	Channel   Channel `json:"channel" validate:"required,oneof=CUSTOMER AGENT DEALER"`
	Telephone string  `json:"telephone" validate:"required,cnmobile"`
	OpenID    string  `json:"openId" validate:"max=128,printable"`
	// WeChatTicket stands for the openId once WeChat login is configured.
	WeChatTicket string `json:"wechatTicket" validate:"max=64"`
	DeviceID     string `json:"deviceId" validate:"required_if=Channel DEALER,max=128,printable"`
	// Captcha is needed only when the client's IP has sent many codes; its
	// captcha is the one issued for DeviceID (mini-program clients send one
	// for this purpose).
	Captcha string `json:"captcha" validate:"max=16"`
}

// CodeSent tells the client when the code expires and when it may ask again.
type CodeSent struct {
	ExpiresIn   int `json:"expiresIn"`   // seconds
	ResendAfter int `json:"resendAfter"` // seconds
}

// VerifyPhoneCodeInput proves a phone with the code sent to it.
type VerifyPhoneCodeInput struct {
	Channel   Channel `json:"channel" validate:"required,oneof=CUSTOMER AGENT DEALER"`
	Telephone string  `json:"telephone" validate:"required,cnmobile"`
	Code      string  `json:"code" validate:"required,len=6,numeric"`
	OpenID    string  `json:"openId" validate:"max=128,printable"`
	// WeChatTicket stands for the openId once WeChat login is configured.
	WeChatTicket string `json:"wechatTicket" validate:"max=64"`
	DeviceID     string `json:"deviceId" validate:"required_if=Channel DEALER,max=128,printable"`
}

// PhoneVerification is the result of a verified phone. Mini-program
// channels always sign in; on the dealer channel the verified code awaits
// register or changePhone.
type PhoneVerification struct {
	Verified bool         `json:"verified"`
	Auth     *AuthPayload `json:"auth"`
}

// subject is who asks for a code: the device on the dealer channel, the
// openId on the mini-program channels.
func (s *Service) subject(ctx context.Context, ch Channel, deviceID, ticket, openID string) (string, error) {
	if ch == ChannelDealer {
		return deviceID, nil
	}
	return s.openID(ctx, ticket, openID)
}

// codeKey holds the one live code of a phone per channel. The phone is the
// Redis hash tag, shared with the phone's rate limits.
func codeKey(ch Channel, phone string) string { return "otp:{" + phone + "}:" + string(ch) }

// codeDigest binds a code to its channel, phone and requester.
func (s *Service) codeDigest(ch Channel, phone, subject, code string) []byte {
	return s.keyed("otp", string(ch), phone, subject, code)
}

// testCode returns the fixed code of an app-review phone, if configured and
// still valid.
func (s *Service) testCode(phone string) (string, bool) {
	code, ok := s.cfg.TestOTP[phone]
	if !ok {
		return "", false
	}
	if !s.cfg.TestOTPValidUntil.IsZero() && s.now().After(s.cfg.TestOTPValidUntil) {
		return "", false
	}
	return code, true
}

// phoneLimits count a phone's sends in one log.
func (s *Service) phoneLimits(phone string) []Limit {
	key := "sms:{" + phone + "}:sends"
	return []Limit{
		{Key: key, Max: 1, Window: s.cfg.SendCooldown},
		{Key: key, Max: s.cfg.SendPerHour, Window: time.Hour},
		{Key: key, Max: s.cfg.SendPerDay, Window: 24 * time.Hour},
	}
}

// SendPhoneCode sends a 6-digit code by SMS, replacing any earlier code of
// the phone on that channel.
//
// Errors: CodeValidation, CodeRateLimited (with RetryAfter), CodeCaptchaRequired,
// CodeCaptchaInvalid, CodeSMSUnavailable, CodeUnavailable.
func (s *Service) SendPhoneCode(ctx context.Context, in SendPhoneCodeInput) (*CodeSent, error) {
	if err := check(in); err != nil {
		return nil, err
	}
	phone, _ := NormalizePhone(in.Telephone)
	subject, err := s.subject(ctx, in.Channel, in.DeviceID, in.WeChatTicket, in.OpenID)
	if err != nil {
		return nil, err
	}
	// Mini-program clients behind a busy IP answer a captcha issued for their
	// deviceId (their openId may come from a ticket they cannot see).
	captchaDevice := in.DeviceID
	if captchaDevice == "" {
		captchaDevice = subject
	}
	code, fixed := s.testCode(phone)
	if !fixed {
		code = randomDigits(6)
	}
	eventID := randomHex(8)
	counted, err := s.takeSendBudgets(ctx, eventID, phone, subject, captchaDevice, in.Captcha,
		codeKey(in.Channel, phone), s.codeDigest(in.Channel, phone, subject, code))
	if err != nil {
		return nil, err
	}
	refund := func() {
		for _, limits := range counted {
			s.refund(ctx, eventID, limits...)
		}
	}
	if fixed {
		s.log.InfoContext(ctx, "fixed test code issued; no SMS sent", "phone", MaskPhone(phone))
	} else if _, err := s.sms.Send(ctx, SMS{Telephone: phone, Purpose: SMSPurposeCode, Code: code}); err != nil {
		// A failed delivery does not count against the user's caps.
		refund()
		s.log.WarnContext(ctx, "sending sms", "phone", MaskPhone(phone), "err", err)
		if CodeOf(err) == CodeInternal {
			return nil, Wrap(CodeSMSUnavailable, err)
		}
		return nil, err
	}
	return &CodeSent{ExpiresIn: int(s.cfg.CodeTTL / time.Second), ResendAfter: int(s.cfg.SendCooldown / time.Second)}, nil
}

// takeSendBudgets counts a send against the phone's limits, the
// requester's and the client IP's, and stores the code's digest under key
// if they all have room, in one step (each group is atomic on its own Redis
// hash tag). If any refuses, the others are refunded. Past the IP threshold
// a valid captcha answer is required instead of a hard block. It returns the
// limit groups that counted the event, for refunds.
func (s *Service) takeSendBudgets(ctx context.Context, eventID, phone, subject, captchaDevice, captcha, key string, digest []byte) ([][]Limit, error) {
	groups := [][]Limit{
		s.phoneLimits(phone),
		{{Key: "sms:{client:" + s.shortHash(subject) + "}:hour", Max: s.cfg.SendPerClient, Window: time.Hour}},
	}
	if ip := RequestFrom(ctx).IP; ip != "" {
		groups = append(groups, []Limit{{Key: "sms:{ip:" + ip + "}:hour", Max: s.cfg.SendPerIP, Window: time.Hour}})
	}
	const ipGroup = 2
	waits, err := s.codes.PutIfRoom(ctx, eventID, groups, key, digest, s.cfg.CodeTTL)
	if err != nil {
		// Some groups may have counted the send.
		for _, g := range groups {
			s.refund(ctx, eventID, g...)
		}
		return nil, Wrap(CodeUnavailable, fmt.Errorf("rate limiting: %w", err))
	}

	var counted [][]Limit
	var failure error
	var longest time.Duration
	for i, g := range groups {
		switch {
		case waits[i] == 0:
			counted = append(counted, g)
		case i == ipGroup: // a captcha instead of a block
		default:
			longest = max(longest, waits[i])
		}
	}
	switch {
	case longest > 0:
		e := E(CodeRateLimited)
		e.RetryAfter = longest
		failure = e
	case len(counted) < len(groups):
		// Past the IP threshold: the code is stored once the captcha passes.
		if failure = s.passCaptcha(ctx, captchaDevice, captcha); failure == nil {
			if err := s.codes.Put(ctx, key, digest, s.cfg.CodeTTL); err != nil {
				failure = Wrap(CodeUnavailable, fmt.Errorf("storing code: %w", err))
			}
		}
	}
	if failure != nil {
		for _, g := range counted {
			s.refund(ctx, eventID, g...)
		}
		return nil, failure
	}
	return counted, nil
}

// passCaptcha lets a send past the IP threshold: with the device's captcha
// answered here, or already verified by VerifyCaptcha (the documented dealer
// sequence, whose sendPhoneNum has no captcha field). The answer is only
// verified, so register can still repeat it; a verified captcha passes one
// send.
func (s *Service) passCaptcha(ctx context.Context, deviceID, answer string) error {
	res, err := s.codes.Check(ctx, s.captchaKey(deviceID)+":passed", s.captchaDigest(deviceID, "passed"), Consume, 1)
	if err != nil {
		return Wrap(CodeUnavailable, fmt.Errorf("checking captcha: %w", err))
	}
	if res == Accepted {
		return nil
	}
	if answer == "" {
		return E(CodeCaptchaRequired)
	}
	return s.checkCaptcha(ctx, deviceID, answer, Verify)
}

// VerifyPhoneCode checks a code. On the mini-program channels the openId is
// then bound to the phone's account (created on first verification, moved
// from any other account) and a session starts. On the dealer channel
// nobody signs in: the code stays valid for register or changePhone.
// Admin accounts never sign in by code.
//
// Errors: CodeValidation, CodeOTPInvalid, CodeForbidden (an admin's phone on
// a mini-program channel), CodeUnavailable.
func (s *Service) VerifyPhoneCode(ctx context.Context, in VerifyPhoneCodeInput) (*PhoneVerification, error) {
	if err := check(in); err != nil {
		return nil, err
	}
	phone, _ := NormalizePhone(in.Telephone)
	subject, err := s.subject(ctx, in.Channel, in.DeviceID, in.WeChatTicket, in.OpenID)
	if err != nil {
		return nil, err
	}
	if in.Channel == ChannelDealer {
		// The code stays valid for register or changePhone; dealers
		// sign in with their password.
		if err := s.checkCode(ctx, in.Channel, phone, in.DeviceID, in.Code, Verify); err != nil {
			return nil, err
		}
		return &PhoneVerification{Verified: true}, nil
	}
	if err := s.checkCode(ctx, in.Channel, phone, subject, in.Code, Consume); err != nil {
		return nil, err
	}
	auth, err := s.bindOpenID(ctx, phone, subject, in.Channel)
	if err != nil {
		return nil, err
	}
	return &PhoneVerification{Verified: true, Auth: auth}, nil
}

// checkCode turns a challenge check into catalogue errors.
func (s *Service) checkCode(ctx context.Context, ch Channel, phone, subject, code string, mode CheckMode) error {
	res, err := s.codes.Check(ctx, codeKey(ch, phone), s.codeDigest(ch, phone, subject, code), mode, s.cfg.CodeAttempts)
	if err != nil {
		return Wrap(CodeUnavailable, fmt.Errorf("checking code: %w", err))
	}
	if res != Accepted {
		return E(CodeOTPInvalid)
	}
	return nil
}

// SwitchAccountInput moves the caller's openId to another phone.
type SwitchAccountInput struct {
	Telephone string `json:"telephone" validate:"required,cnmobile"`
	// Code proves the new phone; without it the phone must already hold the
	// openId (verified through verifyPhoneCode, as legacy clients do).
	Code   string `json:"code" validate:"omitempty,len=6,numeric"`
	OpenID string `json:"openId" validate:"max=128,printable"`
}

// SwitchAccount gives the openId to the account of another phone (created
// if new); the account that loses it is signed out everywhere.
//
// Errors: CodeValidation, CodeUnauthenticated, CodeOTPInvalid,
// CodePhoneNotVerified, CodeUnavailable.
func (s *Service) SwitchAccount(ctx context.Context, in SwitchAccountInput) (*AuthPayload, error) {
	if err := check(in); err != nil {
		return nil, err
	}
	phone, _ := NormalizePhone(in.Telephone)
	openID := in.OpenID
	a := ActorFrom(ctx)
	switch {
	case a != nil && a.Kind == user.KindAdmin:
		return nil, Ef(CodeForbidden, "管理员不能切换微信账号")
	case a != nil:
		// Only the caller's own openId moves, even when the body names one.
		if openID != "" && openID != a.OpenID {
			return nil, Ef(CodeForbidden, "只能切换本人微信绑定的账号")
		}
		openID = a.OpenID
	case !RequestFrom(ctx).Legacy:
		return nil, E(CodeUnauthenticated)
	}
	if openID == "" {
		return nil, Invalid("openId", fieldMessages["openId"])
	}
	if in.Code != "" {
		if err := s.checkCode(ctx, ChannelAgent, phone, openID, in.Code, Consume); err != nil {
			return nil, err
		}
		return s.bindOpenID(ctx, phone, openID, ChannelAgent)
	}
	u, err := s.db.User.Query().Where(user.Telephone(phone), user.OpenID(openID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, E(CodePhoneNotVerified)
	}
	if err != nil {
		return nil, dbError(err)
	}
	if a == nil {
		// Legacy mode names the account without proof: confirm, but issue
		// no session (the verification that moved the openId issued one).
		return &AuthPayload{User: u}, nil
	}
	auth, err := s.startSession(ctx, s.db, u)
	if err != nil {
		return nil, dbError(err)
	}
	return auth, nil
}

// bindOpenID gives openID to the account of phone, creating it if new and
// taking it from any other account, and starts a session. A concurrent
// first verification of the same phone loses the insert race and retries
// once, finding the account the other created.
func (s *Service) bindOpenID(ctx context.Context, phone, openID string, ch Channel) (*AuthPayload, error) {
	var auth *AuthPayload
	attempt := func() error {
		return s.inTx(ctx, func(ctx context.Context, db *ent.Client) error {
			u, err := s.findOrCreateMiniProgramUser(ctx, db, phone, ch)
			if err != nil {
				return err
			}
			if u.OpenID == nil || *u.OpenID != openID {
				if err := s.moveOpenID(ctx, db, openID, u); err != nil {
					return err
				}
				if u, err = db.User.UpdateOne(u).SetOpenID(openID).Save(ctx); err != nil {
					return err
				}
				s.accountChanged(ctx, u.ID)
				if err := s.record(ctx, db, u.ID, "OPEN_ID_BOUND", ""); err != nil {
					return err
				}
			}
			auth, err = s.startSession(ctx, db, u)
			return err
		})
	}
	err := attempt()
	if CodeOf(err) == CodeConflict {
		err = attempt()
	}
	if err != nil {
		return nil, err
	}
	auth.User = auth.User.Unwrap()
	return auth, nil
}

func (s *Service) findOrCreateMiniProgramUser(ctx context.Context, db *ent.Client, phone string, ch Channel) (*ent.User, error) {
	u, err := db.User.Query().Where(user.Telephone(phone)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		kind := user.KindCustomer
		if ch == ChannelAgent {
			kind = user.KindAgent
		}
		return db.User.Create().SetTelephone(phone).SetKind(kind).Save(ctx)
	case err != nil:
		return nil, err
	case u.Kind == user.KindAdmin:
		return nil, Ef(CodeForbidden, "管理员账号只能使用密码登录")
	case ch == ChannelAgent && u.Kind == user.KindCustomer:
		// A customer who opens the agent pages becomes an agent.
		s.accountChanged(ctx, u.ID)
		return db.User.UpdateOne(u).SetKind(user.KindAgent).Save(ctx)
	}
	return u, nil
}

// moveOpenID takes openID from whichever other account holds it and signs
// that account out.
func (s *Service) moveOpenID(ctx context.Context, db *ent.Client, openID string, to *ent.User) error {
	prev, err := db.User.Query().Where(user.OpenID(openID), user.IDNEQ(to.ID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := db.User.UpdateOne(prev).ClearOpenID().Exec(ctx); err != nil {
		return err
	}
	if err := s.revokeSessions(ctx, db, prev.ID, nil); err != nil {
		return err
	}
	return s.record(ctx, db, prev.ID, "OPEN_ID_UNBOUND", "openId moved to another phone")
}

func (s *Service) take(ctx context.Context, id string, limits ...Limit) error {
	wait, err := s.codes.Take(ctx, id, limits...)
	if err != nil {
		return Wrap(CodeUnavailable, fmt.Errorf("rate limiting: %w", err))
	}
	if wait > 0 {
		e := E(CodeRateLimited)
		e.RetryAfter = wait
		return e
	}
	return nil
}

func (s *Service) refund(ctx context.Context, id string, limits ...Limit) {
	if err := s.codes.Refund(ctx, id, limits...); err != nil {
		s.log.WarnContext(ctx, "refunding rate limit", "err", err)
	}
}

// shortHash names a client in limiter keys without storing its id.
func (s *Service) shortHash(v string) string {
	return hex.EncodeToString(s.keyed(v)[:12])
}

// randomDigits returns n uniformly random decimal digits.
func randomDigits(n int) string {
	b := make([]byte, n)
	ten := big.NewInt(10)
	for i := range b {
		d, err := rand.Int(rand.Reader, ten)
		if err != nil {
			panic(err)
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b)
}

// MaskPhone keeps the first three and last four digits, for logs.
func MaskPhone(p string) string {
	if len(p) != 11 {
		return "***"
	}
	return p[:3] + "****" + p[7:]
}
