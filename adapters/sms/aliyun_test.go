package sms_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/carcity/identity/adapters/sms"
	"github.com/carcity/identity/identity"
)

const (
	aliyunKeyID  = "LTAI-test"
	aliyunSecret = "aliyun-secret"
)

// newAliyunFake is dysmsapi as far as SendSms goes: it recomputes the
// signature of every request and answers according to the phone number.
func newAliyunFake(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/" || r.URL.RawQuery != "" {
			t.Errorf("request %s %s, want POST / with parameters in the body", r.Method, r.URL)
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("parsing form: %v", err)
		}
		params := map[string]string{}
		for k, v := range r.PostForm {
			if len(v) != 1 {
				t.Errorf("parameter %s given %d times", k, len(v))
			}
			params[k] = v[0]
		}
		if want := sms.SignAliyun(http.MethodPost, params, aliyunSecret); params["Signature"] != want {
			t.Errorf("Signature = %q, want %q", params["Signature"], want)
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched","RequestId":"req-sig"}`))
			return
		}
		for k, want := range map[string]string{
			"AccessKeyId": aliyunKeyID, "Action": "SendSms", "Version": "2017-05-25", "Format": "JSON",
			"RegionId": "cn-hangzhou", "SignName": "车城", "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
			"SignatureNonce": "nonce-1", "Timestamp": "2026-03-01T08:00:00Z",
		} {
			if params[k] != want {
				t.Errorf("%s = %q, want %q", k, params[k], want)
			}
		}
		tp, hasParam := params["TemplateParam"]
		switch params["TemplateCode"] {
		case "SMS_CODE":
			if tp != `{"code":"918273"}` {
				t.Errorf("TemplateParam = %q", tp)
			}
		case "SMS_NOTICE":
			if hasParam {
				t.Errorf("notice has TemplateParam %q", tp)
			}
		default:
			t.Errorf("TemplateCode = %q", params["TemplateCode"])
		}

		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		answer := func(code, message string) {
			_ = json.NewEncoder(w).Encode(map[string]string{"Code": code, "Message": message, "RequestId": "req-1"})
		}
		switch params["PhoneNumbers"] {
		case "13800000000":
			_, _ = w.Write([]byte(`{"Message":"OK","RequestId":"req-ok","BizId":"biz-1^0","Code":"OK"}`))
		case "13800000001":
			answer("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
		case "13800000002":
			answer("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
		case "13800000003":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"Code":"ServiceUnavailable","Message":"The request has failed due to a temporary failure of the server."}`))
		case "13800000004":
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>502 Bad Gateway</html>"))
		case "13800000005":
			answer("isv.AMOUNT_NOT_ENOUGH", "账户余额不足")
		case "13800000006":
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("upstream down"))
		default:
			t.Errorf("PhoneNumbers = %q", params["PhoneNumbers"])
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newTestAliyun(t *testing.T, endpoint string, client *http.Client) (*sms.Aliyun, *syncBuffer) {
	t.Helper()
	a := sms.NewAliyun(sms.AliyunConfig{
		AccessKeyID:        aliyunKeyID,
		AccessKeySecret:    aliyunSecret,
		SignName:           "车城",
		TemplateCode:       "SMS_CODE",
		NoticeTemplateCode: "SMS_NOTICE",
		Endpoint:           endpoint,
	}, client)
	a.Now = fixedClock
	a.Nonce = func() string { return "nonce-1" }
	logger, logs := MustCaptureLogs(t)
	a.Logger = logger
	return a, logs
}

func TestAliyunSend(t *testing.T) {
	srv := newAliyunFake(t)
	a, logs := newTestAliyun(t, srv.URL, srv.Client())
	for _, tc := range []sendCase{
		{"a code is sent and its BizId returned", "13800000000", identity.SMSPurposeCode, "biz-1^0", ""},
		{"a +86 prefix is dropped", "+8613800000000", identity.SMSPurposeCode, "biz-1^0", ""},
		{"a notice uses the notice template without parameters", "13800000000", identity.SMSPurposeNotice, "biz-1^0", ""},
		{"business limit control is a rate limit", "13800000001", identity.SMSPurposeCode, "", identity.CodeRateLimited},
		{"an illegal number is a validation error", "13800000002", identity.SMSPurposeCode, "", identity.CodeValidation},
		{"HTTP 500 is unavailable", "13800000003", identity.SMSPurposeCode, "", identity.CodeSMSUnavailable},
		{"a garbage body is unavailable", "13800000004", identity.SMSPurposeCode, "", identity.CodeSMSUnavailable},
		{"any other provider code is unavailable", "13800000005", identity.SMSPurposeCode, "", identity.CodeSMSUnavailable},
		{"a non-JSON error status is unavailable", "13800000006", identity.SMSPurposeCode, "", identity.CodeSMSUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) { checkSend(t, a, tc) })
	}

	t.Run("the log has request and message ids but never the code", func(t *testing.T) {
		out := logs.String()
		if strings.Contains(out, testCode) {
			t.Errorf("log contains the code:\n%s", out)
		}
		for _, want := range []string{"req-ok", "biz-1^0", "isv.BUSINESS_LIMIT_CONTROL"} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
	})
}

func TestAliyunProviderCodeIsTheCause(t *testing.T) {
	srv := newAliyunFake(t)
	a, _ := newTestAliyun(t, srv.URL, srv.Client())
	_, err := a.Send(context.Background(), identity.SMS{Telephone: "13800000005", Purpose: identity.SMSPurposeCode, Code: testCode})
	if !strings.Contains(err.Error(), "isv.AMOUNT_NOT_ENOUGH") || !strings.Contains(err.Error(), "账户余额不足") {
		t.Fatalf("err = %v, want the provider code and message as cause", err)
	}
}

func TestAliyunTimeoutIsUnavailable(t *testing.T) {
	srv := MustHang(t)
	a, _ := newTestAliyun(t, srv.URL, &http.Client{Timeout: 50 * time.Millisecond})
	checkSend(t, a, sendCase{telephone: "13800000000", purpose: identity.SMSPurposeCode, wantCode: identity.CodeSMSUnavailable})
}

func TestAliyunMissingNoticeTemplateIsUnavailable(t *testing.T) {
	a := sms.NewAliyun(sms.AliyunConfig{TemplateCode: "SMS_CODE", Endpoint: "http://127.0.0.1:1"}, nil)
	checkSend(t, a, sendCase{telephone: "13800000000", purpose: identity.SMSPurposeNotice, wantCode: identity.CodeSMSUnavailable})
}
