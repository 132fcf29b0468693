package sms_test

import (
	"strings"
	"testing"

	"github.com/carcity/identity/adapters/sms"
	"github.com/carcity/identity/identity"
)

func TestLogPrintsTheCodeForDevelopers(t *testing.T) {
	logger, logs := MustCaptureLogs(t)
	l := sms.Log{Logger: logger}
	msg := identity.SMS{Telephone: "13800000000", Purpose: identity.SMSPurposeCode, Code: testCode}
	id1, err := l.Send(t.Context(), msg)
	if err != nil {
		t.Fatal(err)
	}
	id2, _ := l.Send(t.Context(), msg)
	if id1 == "" || id1 == id2 {
		t.Errorf("message ids %q and %q, want distinct non-empty ids", id1, id2)
	}
	out := logs.String()
	for _, want := range []string{"level=INFO", `msg="sms (log driver, development only)"`, "telephone=13800000000", "purpose=code", "code=" + testCode, id1} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
