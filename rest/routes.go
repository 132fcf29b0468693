package rest

import (
	"context"
	"strings"

	"github.com/carcity/identity/ent"
	"github.com/carcity/identity/ent/schema/enum"
	"github.com/carcity/identity/identity"
)

// table maps every path of legacy-api.md (and the documented misspelling
// euploadFavicon) to its call.
func (h *Handler) table() map[string]route {
	post := func(c call) route { return route{call: c} }
	postOrGet := func(c call) route { return route{call: c, allowGET: true} }
	uploadRoute := func(c call) route { return route{call: c, upload: true} }
	return map[string]route{
		"/user/custom/sendPhoneNum":   post(h.sendCode(identity.ChannelCustomer)),
		"/user/custom/verifyPhoneNum": post(h.verifyCode(identity.ChannelCustomer)),

		"/user/proxy/sendPhoneNum":        post(h.sendCode(identity.ChannelAgent)),
		"/user/proxy/verifyPhoneNum":      post(h.verifyCode(identity.ChannelAgent)),
		"/user/proxy/identifyPUser":       post(h.identifyPUser),
		"/user/proxy/switchPUser":         post(h.switchPUser),
		"/user/proxy/uploadFrontImg":      uploadRoute(h.upload(identity.PurposeIDFront, "frontImg")),
		"/user/proxy/uploadQualification": uploadRoute(h.upload(identity.PurposeQualification, "qualification")),
		"/user/proxy/submitPUser":         post(h.submitPUser),
		"/user/proxy/auditPUser":          post(h.auditPUser),

		"/user/dealer/login":          post(h.login),
		"/user/dealer/sendPhoneNum":   post(h.sendCode(identity.ChannelDealer)),
		"/user/dealer/verifyPhoneNum": post(h.verifyCode(identity.ChannelDealer)),
		"/user/dealer/sendGraphCode":  post(h.sendGraphCode),
		"/user/dealer/verifyPicCode":  post(h.verifyPicCode),
		"/user/dealer/register":       post(h.register),
		"/user/dealer/reset":          post(h.reset),
		"/user/dealer/editPhone":      post(h.editPhone),
		"/user/dealer/editGender":     postOrGet(h.editGender),
		"/user/dealer/editNickname":   postOrGet(h.editNickname),
		"/user/dealer/editFavicon":    postOrGet(h.editFavicon),
		"/user/dealer/uploadFavicon":  uploadRoute(h.upload(identity.PurposeAvatar, "favicon")),
		"/user/dealer/euploadFavicon": uploadRoute(h.upload(identity.PurposeAvatar, "favicon")),

		// Not in legacy-api.md: server-side WeChat login (see the README).
		"/user/wechat/login":      post(h.wechatLogin),
		"/user/wechat/phoneLogin": post(h.wechatPhoneLogin),
	}
}

func (h *Handler) sendCode(ch identity.Channel) call {
	return func(ctx context.Context, p params) (data, error) {
		_, err := h.svc.SendPhoneCode(ctx, identity.SendPhoneCodeInput{
			Channel:      ch,
			Telephone:    p.get("telephone"),
			OpenID:       p.get("openId"),
			WeChatTicket: p.get("ticket"),
			DeviceID:     p.get("deviceId"),
			Captcha:      p.get("picCode"),
		})
		return nil, err
	}
}

func (h *Handler) verifyCode(ch identity.Channel) call {
	return func(ctx context.Context, p params) (data, error) {
		v, err := h.svc.VerifyPhoneCode(ctx, identity.VerifyPhoneCodeInput{
			Channel:      ch,
			Telephone:    p.get("telephone"),
			Code:         p.get("phoneNum"),
			OpenID:       p.get("openId"),
			WeChatTicket: p.get("ticket"),
			DeviceID:     p.get("deviceId"),
		})
		if err != nil {
			return nil, err
		}
		if v.Auth == nil {
			return nil, nil
		}
		return data{"token": v.Auth.Token}, nil
	}
}

func (h *Handler) identifyPUser(ctx context.Context, p params) (data, error) {
	st, err := h.svc.MyCertification(ctx, p.get("telephone"))
	if err != nil {
		return nil, err
	}
	return data{"status": st.Status}, nil
}

func (h *Handler) switchPUser(ctx context.Context, p params) (data, error) {
	auth, err := h.svc.SwitchAccount(ctx, identity.SwitchAccountInput{
		Telephone: p.get("telephone"),
		OpenID:    p.get("openId"),
		Code:      p.get("phoneNum"),
	})
	if err != nil || auth.Token == "" {
		return nil, err
	}
	return data{"token": auth.Token}, nil
}

func (h *Handler) upload(purpose identity.ImagePurpose, field string) call {
	return func(ctx context.Context, p params) (data, error) {
		in := identity.UploadImageInput{
			Telephone: firstOf(p, "telephone", "username"),
			Purpose:   purpose,
		}
		if p.file != nil {
			in.File = p.file
		}
		img, err := h.svc.UploadImage(ctx, in)
		if err != nil {
			return nil, err
		}
		return data{field: img.URL}, nil
	}
}

func (h *Handler) submitPUser(ctx context.Context, p params) (data, error) {
	c, err := h.svc.SubmitCertification(ctx, identity.SubmitCertificationInput{
		Telephone:     p.get("telephone"),
		RealName:      p.get("realName"),
		IDNumber:      p.get("idNo"),
		FrontImage:    p.get("frontImg"),
		Qualification: p.get("qualification"),
	})
	if err != nil {
		return nil, err
	}
	return data{
		"realName":      c.RealName,
		"idNo":          c.IDNumberMasked,
		"frontImg":      p.get("frontImg"),
		"qualification": p.get("qualification"),
		"status":        c.Status.Legacy(),
	}, nil
}

func (h *Handler) auditPUser(ctx context.Context, p params) (data, error) {
	in := identity.AuditCertificationInput{
		Telephone: p.get("telephone"),
		Comment:   p.get("comment"),
	}
	if n, ok := p.int("status"); ok {
		in.Status, _ = enum.CertStatusFromLegacy(n)
	}
	if reason := p.get("reason"); reason != "" {
		r := enum.RejectReason(strings.ToUpper(reason))
		in.Reason = &r
	}
	c, err := h.svc.AuditCertification(ctx, in)
	if err != nil {
		return nil, err
	}
	return data{"status": c.Status.Legacy()}, nil
}

func (h *Handler) login(ctx context.Context, p params) (data, error) {
	auth, err := h.svc.Login(ctx, identity.LoginInput{
		Telephone: firstOf(p, "telephone", "username"),
		Password:  p.get("password"),
	})
	if err != nil {
		return nil, err
	}
	return h.profile(ctx, auth)
}

func (h *Handler) register(ctx context.Context, p params) (data, error) {
	auth, err := h.svc.Register(ctx, identity.RegisterInput{
		DeviceID:  p.get("deviceId"),
		Telephone: p.get("telephone"),
		Code:      p.get("phoneNum"),
		Captcha:   p.get("picCode"),
		Password:  p.get("password"),
	})
	if err != nil {
		return nil, err
	}
	return h.profile(ctx, auth)
}

// profile is the documented login/register data, plus the token.
func (h *Handler) profile(ctx context.Context, auth *identity.AuthPayload) (data, error) {
	d, err := h.user(ctx, auth.User)
	if err != nil {
		return nil, err
	}
	d["status"] = 0
	if auth.Certification != nil {
		d["status"] = auth.Certification.Status.Legacy()
	}
	d["token"] = auth.Token
	return d, nil
}

func (h *Handler) sendGraphCode(ctx context.Context, p params) (data, error) {
	c, err := h.svc.SendCaptcha(ctx, identity.SendCaptchaInput{DeviceID: p.get("deviceId")})
	if err != nil {
		return nil, err
	}
	return data{"picUrl": c.ImageURL}, nil
}

func (h *Handler) verifyPicCode(ctx context.Context, p params) (data, error) {
	_, err := h.svc.VerifyCaptcha(ctx, identity.VerifyCaptchaInput{DeviceID: p.get("deviceId"), Answer: p.get("picCode")})
	return nil, err
}

func (h *Handler) reset(ctx context.Context, p params) (data, error) {
	_, err := h.svc.ResetPassword(ctx, identity.ResetPasswordInput{
		Telephone:   firstOf(p, "username", "telephone"),
		OldPassword: p.get("oldPS"),
		NewPassword: p.get("newPS"),
	})
	return nil, err
}

func (h *Handler) editPhone(ctx context.Context, p params) (data, error) {
	u, err := h.svc.ChangePhone(ctx, identity.ChangePhoneInput{
		Telephone:    p.get("username"),
		NewTelephone: p.get("telephone"),
		DeviceID:     p.get("deviceId"),
		Code:         p.get("phoneNum"),
	})
	if err != nil {
		return nil, err
	}
	return data{"telephone": u.Telephone}, nil
}

func (h *Handler) editGender(ctx context.Context, p params) (data, error) {
	n, ok := p.int("gender")
	g, valid := identity.GenderFromLegacy(n)
	if !ok || !valid {
		return nil, identity.Invalid("gender", "性别取值应为 0、1、2、3")
	}
	return h.updateProfile(ctx, identity.UpdateProfileInput{Telephone: p.get("username"), Gender: &g})
}

func (h *Handler) editNickname(ctx context.Context, p params) (data, error) {
	nick, ok := p.values["nickName"]
	if !ok {
		return nil, identity.Invalid("nickName", "请输入昵称")
	}
	return h.updateProfile(ctx, identity.UpdateProfileInput{Telephone: p.get("username"), NickName: &nick})
}

func (h *Handler) editFavicon(ctx context.Context, p params) (data, error) {
	favicon, ok := p.values["favicon"]
	if !ok {
		return nil, identity.Invalid("favicon", "请先上传头像")
	}
	return h.updateProfile(ctx, identity.UpdateProfileInput{Telephone: p.get("username"), Favicon: &favicon})
}

func (h *Handler) updateProfile(ctx context.Context, in identity.UpdateProfileInput) (data, error) {
	u, err := h.svc.UpdateProfile(ctx, in)
	if err != nil {
		return nil, err
	}
	return h.user(ctx, u)
}

func (h *Handler) user(ctx context.Context, u *ent.User) (data, error) {
	favicon, err := h.svc.FileURL(ctx, u.Favicon)
	if err != nil {
		return nil, err
	}
	return data{
		"telephone": u.Telephone,
		"nickName":  u.NickName,
		"favicon":   favicon,
		"gender":    identity.LegacyGender(u.Gender),
	}, nil
}

// firstOf returns the first non-empty parameter of names (the document names
// the account "telephone" in some calls and "username" in others).
func firstOf(p params, names ...string) string {
	for _, n := range names {
		if v := p.get(n); v != "" {
			return v
		}
	}
	return ""
}

func (h *Handler) wechatLogin(ctx context.Context, p params) (data, error) {
	l, err := h.svc.LoginWithWeChat(ctx, identity.WeChatLoginInput{Code: p.get("code")})
	if err != nil {
		return nil, err
	}
	d := data{"ticket": l.Ticket}
	if l.Auth != nil {
		d["token"] = l.Auth.Token
	}
	return d, nil
}

func (h *Handler) wechatPhoneLogin(ctx context.Context, p params) (data, error) {
	ch, ok := map[string]identity.Channel{"custom": identity.ChannelCustomer, "proxy": identity.ChannelAgent}[p.get("channel")]
	if !ok {
		return nil, identity.Invalid("channel", "channel 应为 custom 或 proxy")
	}
	auth, err := h.svc.LoginWithWeChatPhone(ctx, identity.WeChatPhoneInput{Channel: ch, Ticket: p.get("ticket"), Code: p.get("code")})
	if err != nil {
		return nil, err
	}
	return data{"token": auth.Token, "telephone": auth.User.Telephone}, nil
}
