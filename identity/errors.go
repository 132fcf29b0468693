package identity

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Code is a stable, client-visible error id. GraphQL puts it in
// extensions.code; the REST shim turns it into the legacy errCode number.
type Code string

// The catalogue. Do not rename: clients match on these strings.
const (
	CodeValidation       Code = "VALIDATION"
	CodeUnauthenticated  Code = "UNAUTHENTICATED"
	CodeForbidden        Code = "FORBIDDEN"
	CodeNotFound         Code = "NOT_FOUND"
	CodeConflict         Code = "CONFLICT"
	CodePhoneTaken       Code = "PHONE_TAKEN"
	CodeRateLimited      Code = "RATE_LIMITED"
	CodeCaptchaInvalid   Code = "CAPTCHA_INVALID"
	CodeCaptchaRequired  Code = "CAPTCHA_REQUIRED"
	CodeOTPInvalid       Code = "OTP_INVALID"
	CodeCredentials      Code = "INVALID_CREDENTIALS"
	CodeWeakPassword     Code = "WEAK_PASSWORD"
	CodePhoneNotVerified Code = "PHONE_NOT_VERIFIED"
	CodeInvalidImage     Code = "INVALID_IMAGE"
	CodePayloadTooLarge  Code = "PAYLOAD_TOO_LARGE"
	CodeMethodNotAllowed Code = "METHOD_NOT_ALLOWED"
	CodeUnavailable      Code = "UNAVAILABLE"
	CodeSMSUnavailable   Code = "SMS_UNAVAILABLE"
	CodeInternal         Code = "INTERNAL"
)

// entry is one row of the catalogue.
type entry struct {
	legacy  int    // errCode of the legacy REST envelope
	http    int    // status where a transport uses HTTP statuses (never the legacy shim for business outcomes)
	message string // default message for end users
}

// The legacy document defines 200, 2016 and 2017; the rest continue its 20xx numbering.
var catalogue = map[Code]entry{
	CodeValidation:       {2001, 400, "请求参数不正确"},
	CodeUnauthenticated:  {2002, 401, "请先登录"},
	CodeForbidden:        {2003, 403, "无权执行此操作"},
	CodeNotFound:         {2004, 404, "请求的资源不存在"},
	CodeConflict:         {2009, 409, "数据已被他人修改，请刷新后重试"},
	CodePhoneTaken:       {2018, 409, "该手机号已注册"},
	CodeRateLimited:      {2029, 429, "操作过于频繁，请稍后再试"},
	CodeCaptchaInvalid:   {2015, 400, "图形验证码错误或已过期"},
	CodeCaptchaRequired:  {2019, 400, "请先完成图形验证码"},
	CodeOTPInvalid:       {2016, 400, "手机验证码错误"},
	CodeCredentials:      {2017, 401, "手机号或密码不正确"},
	CodeWeakPassword:     {2020, 400, "密码过于简单，请换一个更安全的密码"},
	CodePhoneNotVerified: {2021, 400, "请先验证该手机号"},
	CodeInvalidImage:     {2022, 400, "仅支持 JPEG、PNG、WebP 格式的图片"},
	CodePayloadTooLarge:  {2013, 413, "上传内容过大"},
	CodeMethodNotAllowed: {2005, 405, "请求方式不支持"},
	CodeUnavailable:      {2503, 503, "服务暂时不可用，请稍后再试"},
	CodeSMSUnavailable:   {2504, 503, "短信服务暂时不可用，请稍后再试"},
	CodeInternal:         {2500, 500, "服务器内部错误"},
}

// Codes lists the catalogue, for documentation and tests.
func Codes() []Code {
	out := make([]Code, 0, len(catalogue))
	for c := range catalogue {
		out = append(out, c)
	}
	return out
}

// LegacyCode is the errCode of the legacy envelope for c.
func (c Code) LegacyCode() int { return lookup(c).legacy }

// HTTPStatus is the HTTP status that best describes c.
func (c Code) HTTPStatus() int { return lookup(c).http }

// Message is the default end-user message for c.
func (c Code) Message() string { return lookup(c).message }

func lookup(c Code) entry {
	if e, ok := catalogue[c]; ok {
		return e
	}
	return catalogue[CodeInternal]
}

// Error is the only error type the domain returns to transports. Message is
// safe to show to end users; Cause stays on the server (logs).
type Error struct {
	Code       Code
	Message    string
	Field      string        // the input field at fault, for validation errors
	RetryAfter time.Duration // for rate limits
	Cause      error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Cause }

// E returns an error of the catalogue with its default message.
func E(code Code) *Error { return &Error{Code: code, Message: code.Message()} }

// Ef returns an error of the catalogue with a specific end-user message.
func Ef(code Code, message string) *Error { return &Error{Code: code, Message: message} }

// Invalid is a validation error about one input field.
func Invalid(field, message string) *Error {
	return &Error{Code: CodeValidation, Message: message, Field: field}
}

// Wrap keeps err as the server-side cause of a catalogue error.
func Wrap(code Code, err error) *Error {
	return &Error{Code: code, Message: code.Message(), Cause: err}
}

// CodeOf is the catalogue code of any error: unknown errors are internal,
// a cancelled or timed-out request is unavailable.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return CodeUnavailable
	}
	return CodeInternal
}

// Public turns any error into the catalogue error a client may see.
func Public(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Wrap(CodeOf(err), err)
}
