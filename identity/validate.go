package identity

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// NormalizePhone returns the 11-digit mainland mobile number in s, accepting
// spaces, dashes and a +86/86/0086 prefix; ok is false for anything else.
func NormalizePhone(s string) (string, bool) {
	s = strings.TrimSpace(s)
	s = phoneSeparators.Replace(s)
	switch {
	case strings.HasPrefix(s, "+86"):
		s = s[3:]
	case strings.HasPrefix(s, "0086"):
		s = s[4:]
	case len(s) == 13 && strings.HasPrefix(s, "86"):
		s = s[2:]
	}
	if len(s) != 11 || s[0] != '1' || s[1] < '3' || s[1] > '9' {
		return "", false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	return s, true
}

var phoneSeparators = strings.NewReplacer(" ", "", "-", "")

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const idCheckDigits = "10X98765432"

// NormalizeIDNumber checks an 18-character resident ID number (GB 11643):
// digits, a real birth date not in the future, and the ISO 7064 check
// character. It returns the number with an upper-case X.
func NormalizeIDNumber(s string, today time.Time) (string, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != 18 {
		return "", false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
		sum += int(s[i]-'0') * idWeights[i]
	}
	if s[17] != idCheckDigits[sum%11] {
		return "", false
	}
	if s[0] == '0' {
		return "", false // no province code starts with 0
	}
	birth, err := time.Parse("20060102", s[6:14])
	if err != nil || birth.Year() < 1900 || birth.After(today) {
		return "", false
	}
	return s, true
}

// MaskIDNumber keeps the region code and the last four characters.
func MaskIDNumber(s string) string {
	if len(s) != 18 {
		return strings.Repeat("*", len(s))
	}
	return s[:6] + strings.Repeat("*", 8) + s[14:]
}

var (
	validateOnce sync.Once
	validate     *validator.Validate
)

// inputValidator is the shared validator with the service's rules: cnmobile
// (what NormalizePhone accepts), cnid and printable (no control characters).
func inputValidator() *validator.Validate {
	validateOnce.Do(func() {
		v := validator.New(validator.WithRequiredStructEnabled())
		v.RegisterTagNameFunc(func(f reflect.StructField) string {
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
				return name
			}
			return f.Name
		})
		must(v.RegisterValidation("cnmobile", func(fl validator.FieldLevel) bool {
			_, ok := NormalizePhone(fl.Field().String())
			return ok
		}))
		must(v.RegisterValidation("cnid", func(fl validator.FieldLevel) bool {
			_, ok := NormalizeIDNumber(fl.Field().String(), time.Now())
			return ok
		}))
		must(v.RegisterValidation("printable", func(fl validator.FieldLevel) bool {
			return printable(fl.Field().String())
		}))
		validate = v
	})
	return validate
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// printable refuses invalid UTF-8 and control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 {
			return false
		}
	}
	return true
}

// fieldMessages are the user-facing messages per validated field.
var fieldMessages = map[string]string{
	"telephone":     "手机号格式不正确",
	"newTelephone":  "手机号格式不正确",
	"code":          "请输入6位短信验证码",
	"captcha":       "请输入图形验证码",
	"openId":        "缺少微信用户标识 openId",
	"deviceId":      "缺少设备标识 deviceId",
	"password":      "密码长度应为8到64个字符",
	"oldPassword":   "请输入原密码",
	"newPassword":   "新密码长度应为8到64个字符",
	"realName":      "请输入真实姓名",
	"idNumber":      "身份证号不正确",
	"frontImage":    "请先上传身份证正面照",
	"qualification": "请先上传资格证照片",
	"nickName":      "昵称最多32个字符，且不能包含控制字符",
	"comment":       "备注最多500个字符",
	"status":        "审核状态不正确",
	"reason":        "驳回时请选择原因",
}

// check validates in and turns the first failure into a catalogue error.
func check(in any) error {
	err := inputValidator().Struct(in)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) || len(verrs) == 0 {
		return Wrap(CodeValidation, err)
	}
	field := verrs[0].Field()
	if msg, ok := fieldMessages[field]; ok {
		return Invalid(field, msg)
	}
	return Invalid(field, "参数 "+field+" 不正确")
}
