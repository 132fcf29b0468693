package identity_test

import (
	"strings"
	"testing"
	"time"

	"github.com/carcity/identity/identity"
)

var today = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func TestNormalizePhone(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		ok             bool
	}{
		{"a plain mobile number", "13800138000", "13800138000", true},
		{"with +86", "+8613800138000", "13800138000", true},
		{"with 86", "8613800138000", "13800138000", true},
		{"with 0086", "008613800138000", "13800138000", true},
		{"with spaces and dashes", " 138-0013 8000 ", "13800138000", true},
		{"the 19x range", "19912345678", "19912345678", true},
		{"a second digit below 3", "12800138000", "", false},
		{"too short", "1380013800", "", false},
		{"too long", "138001380001", "", false},
		{"letters", "1380013800a", "", false},
		{"another country", "+14155550100", "", false},
		{"empty", "", "", false},
		{"full-width digits", "１３８００１３８０００", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := identity.NormalizePhone(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("NormalizePhone(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, seed := range []string{"13800138000", "+86 138 0013 8000", "8613800138000", "", "1", "+861", "０", "13800138000\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := identity.NormalizePhone(in)
		if !ok {
			if got != "" {
				t.Fatalf("refused %q but returned %q", in, got)
			}
			return
		}
		if len(got) != 11 || got[0] != '1' || got[1] < '3' || strings.Trim(got, "0123456789") != "" {
			t.Fatalf("accepted %q as %q", in, got)
		}
		if again, ok := identity.NormalizePhone(got); !ok || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, got, again)
		}
	})
}

func TestNormalizeIDNumber(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		ok             bool
	}{
		{"a valid number with X", "11010519491231002X", "11010519491231002X", true},
		{"a lower-case x", "11010519491231002x", "11010519491231002X", true},
		{"a valid number with a digit check", "440524198001010013", "440524198001010013", true},
		{"a wrong check character", "110105194912310021", "", false},
		{"February 30th", "110105194902300028", "", false},
		{"born in the future", "110105203001010010", "", false},
		{"17 characters", "11010519491231002", "", false},
		{"letters inside", "1101051949123100AX", "", false},
		{"a 15-digit old-style number", "110105491231002", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := identity.NormalizeIDNumber(tc.in, today)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("NormalizeIDNumber(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzNormalizeIDNumber(f *testing.F) {
	for _, seed := range []string{"11010519491231002X", "440524198001010013", "110105194902300028", "", "X", strings.Repeat("9", 18)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := identity.NormalizeIDNumber(in, today)
		if !ok {
			return
		}
		if len(got) != 18 {
			t.Fatalf("accepted %q as %q", in, got)
		}
		if _, err := time.Parse("20060102", got[6:14]); err != nil {
			t.Fatalf("accepted a bad birth date: %q", got)
		}
		if masked := identity.MaskIDNumber(got); masked[6:14] != "********" || masked[:6] != got[:6] {
			t.Fatalf("mask of %q = %q", got, masked)
		}
	})
}
