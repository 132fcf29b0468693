package rest_test

import (
	"testing"

	"github.com/carcity/identity/identity"
)

// The flows are run as an old client written only from legacy-api.md would
// run them; in token mode the client adds the bearer token it was last given.

func TestAnAgentGetsCertifiedAsTheDocumentDescribes(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newClient(t, m.legacy, false)
			phone := newPhone()
			openID := "oWx-" + phone

			// 1-2. sendPhoneNum, verifyPhoneNum.
			c.post(t, "/user/proxy/sendPhoneNum", "", params{"openId": openID, "telephone": phone}).ok(t)
			code := c.SMS.LastCode(t, phone)
			token := c.post(t, "/user/proxy/verifyPhoneNum", "", params{"openId": openID, "telephone": phone, "phoneNum": code}).ok(t).token(t)
			me := account{phone: phone, openID: openID, token: token}

			// 3. identifyPUser: not certified.
			if s := c.status(t, me); s != 0 {
				t.Fatalf("status %d before any submission, want 0", s)
			}

			// 5-6. The two photos, as multipart PNGs with the telephone field.
			front := c.upload(t, "/user/proxy/uploadFrontImg", c.auth(token), params{"telephone": phone}, "IMG_0001.png", pngImage(t)).ok(t).str(t, "frontImg")
			qual := c.upload(t, "/user/proxy/uploadQualification", c.auth(token), params{"telephone": phone}, "IMG_0002.png", pngImage(t)).ok(t).str(t, "qualification")
			fetchPNG(t, front)
			fetchPNG(t, qual)

			// 7. submitPUser: under review, ID number masked.
			submit := params{"telephone": phone, "realName": "张三", "idNo": validIDNo, "frontImg": front, "qualification": qual}
			r := c.post(t, "/user/proxy/submitPUser", c.auth(token), submit).ok(t)
			if r.num(t, "status") != 1 || r.str(t, "idNo") != maskedIDNo || r.str(t, "realName") != "张三" ||
				r.str(t, "frontImg") != front || r.str(t, "qualification") != qual {
				t.Fatalf("submitPUser answered %s", r.Body)
			}
			if s := c.status(t, me); s != 1 {
				t.Fatalf("status %d after submission, want 1 (审核中)", s)
			}

			// The admin rejects it (status "2"); the agent resubmits.
			admin := c.admin(t)
			c.post(t, "/user/proxy/auditPUser", admin, params{"telephone": phone, "status": "2"}).ok(t)
			if s := c.status(t, me); s != 2 {
				t.Fatalf("status %d after rejection, want 2 (未通过)", s)
			}
			front2, qual2 := c.certificationImages(t, me)
			submit["frontImg"], submit["qualification"] = front2, qual2
			if s := c.post(t, "/user/proxy/submitPUser", c.auth(token), submit).ok(t).num(t, "status"); s != 1 {
				t.Fatalf("resubmission status %d, want 1", s)
			}
			if s := c.status(t, me); s != 1 {
				t.Fatalf("status %d after resubmission, want 1", s)
			}

			// The admin approves it (status "3").
			c.post(t, "/user/proxy/auditPUser", admin, params{"telephone": phone, "status": "3"}).ok(t)
			if s := c.status(t, me); s != 3 {
				t.Fatalf("status %d after approval, want 3 (已通过)", s)
			}
			c.post(t, "/user/proxy/submitPUser", c.auth(token), submit).fails(t, 2009)
		})
	}
}

func TestAResubmissionMayReuseTheRejectedPhotos(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newClient(t, m.legacy, false)
			a := c.newAgent(t)
			front, qual := c.certificationImages(t, a)
			submit := params{"telephone": a.phone, "realName": "张三", "idNo": validIDNo, "frontImg": front, "qualification": qual}
			c.post(t, "/user/proxy/submitPUser", c.auth(a.token), submit).ok(t)
			c.post(t, "/user/proxy/auditPUser", c.admin(t), params{"telephone": a.phone, "status": 2}).ok(t)
			c.post(t, "/user/proxy/submitPUser", c.auth(a.token), submit).ok(t)
			if s := c.status(t, a); s != 1 {
				t.Fatalf("status %d, want 1", s)
			}
		})
	}
}

func TestADealerRegistersAndManagesTheAccountAsTheDocumentDescribes(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newClient(t, m.legacy, false)
			phone, device := newPhone(), "F3A1C2D4-"+newPhone()

			// 4-5. sendGraphCode, verifyPicCode.
			pic := c.post(t, "/user/dealer/sendGraphCode", "", params{"deviceId": device}).ok(t).str(t, "picUrl")
			if !picURL.MatchString(pic) {
				t.Fatalf("picUrl %q", pic)
			}
			c.post(t, "/user/dealer/verifyPicCode", "", params{"deviceId": device, "picCode": testCaptcha}).ok(t)

			// 2-3. sendPhoneNum, verifyPhoneNum: the phone has no account yet,
			// so the code is verified for register and nobody is signed in.
			c.post(t, "/user/dealer/sendPhoneNum", "", params{"deviceId": device, "telephone": phone}).ok(t)
			code := c.SMS.LastCode(t, phone)
			if r := c.post(t, "/user/dealer/verifyPhoneNum", "", params{"deviceId": device, "telephone": phone, "phoneNum": code}).ok(t); r.Data["token"] != nil {
				t.Fatalf("verifyPhoneNum of a phone without an account signed in: %s", r.Body)
			}

			// 6. register repeats both answers.
			password := "my first passphrase"
			reg := c.post(t, "/user/dealer/register", "", params{
				"deviceId": device, "telephone": phone, "phoneNum": code, "picCode": testCaptcha, "password": password,
			}).ok(t)
			if reg.str(t, "telephone") != phone {
				t.Fatalf("register answered %s", reg.Body)
			}
			reg.token(t)

			// 1. login.
			login := c.login(t, phone, password).ok(t)
			for _, name := range []string{"telephone", "nickName", "favicon", "token"} {
				login.str(t, name)
			}
			if login.num(t, "gender") != 0 || login.num(t, "status") != 0 || login.str(t, "nickName") != "" {
				t.Fatalf("login answered %s", login.Body)
			}
			token := login.token(t)

			// 7. reset.
			newPassword := "my second passphrase"
			c.post(t, "/user/dealer/reset", c.auth(token), params{"username": phone, "oldPS": password, "newPS": newPassword}).ok(t)
			c.login(t, phone, password).fails(t, 2017)
			c.login(t, phone, newPassword).ok(t)

			// 8. editPhone: a code for the new phone, sent for the same device.
			newPh := newPhone()
			c.post(t, "/user/dealer/sendPhoneNum", "", params{"deviceId": device, "telephone": newPh}).ok(t)
			c.post(t, "/user/dealer/editPhone", c.auth(token), params{
				"username": phone, "telephone": newPh, "deviceId": device, "phoneNum": c.SMS.LastCode(t, newPh),
			}).ok(t)
			c.login(t, phone, newPassword).fails(t, 2017)
			// The client signs in again with its new phone (the token that
			// changed the phone is tested on its own: see
			// TestTheTokenThatChangedThePhoneNamesTheNewPhoneAtOnce).
			token = c.login(t, newPh, newPassword).ok(t).token(t)

			// 9-12. editGender, editNickname, uploadFavicon + editFavicon.
			c.post(t, "/user/dealer/editGender", c.auth(token), params{"username": newPh, "gender": "2"}).ok(t)
			c.post(t, "/user/dealer/editNickname", c.auth(token), params{"username": newPh, "nickName": "车城老王"}).ok(t)
			fav := c.upload(t, "/user/dealer/euploadFavicon", c.auth(token), params{}, "avatar.png", pngImage(t)).ok(t).str(t, "favicon")
			fetchPNG(t, fav)
			c.post(t, "/user/dealer/editFavicon", c.auth(token), params{"username": newPh, "favicon": fav}).ok(t)

			final := c.login(t, newPh, newPassword).ok(t)
			if final.str(t, "telephone") != newPh || final.num(t, "gender") != 2 || final.str(t, "nickName") != "车城老王" || final.str(t, "favicon") != fav {
				t.Fatalf("the profile after the edits: %s", final.Body)
			}
		})
	}
}

func TestTheTokenThatChangedThePhoneNamesTheNewPhoneAtOnce(t *testing.T) {
	// editPhone keeps the caller's session; the client goes on naming its
	// account by the new phone, as the document's username.
	c := newClient(t, false, false)
	d := c.newDealer(t)
	phone := newPhone()
	code := c.codeFor(t, "dealer", phone, d.device)
	c.post(t, "/user/dealer/editPhone", d.token, params{"username": d.phone, "telephone": phone, "deviceId": d.device, "phoneNum": code}).ok(t)
	c.post(t, "/user/dealer/editNickname", d.token, params{"username": phone, "nickName": "新号"}).ok(t)
	c.post(t, "/user/proxy/identifyPUser", d.token, params{"telephone": phone}).ok(t)
}

func TestResetSignsOutTheOtherSessionsButNotTheOneThatReset(t *testing.T) {
	c := newClient(t, false, false)
	d := c.newDealer(t)
	kept := c.login(t, d.phone, d.password).ok(t).token(t)
	c.post(t, "/user/dealer/reset", kept, params{"username": d.phone, "oldPS": d.password, "newPS": "a brand new passphrase"}).ok(t)
	// The session that reset the password goes on; the others are signed out.
	c.post(t, "/user/dealer/editNickname", kept, params{"username": d.phone, "nickName": "a"}).ok(t)
	c.post(t, "/user/dealer/editNickname", d.token, params{"username": d.phone, "nickName": "b"}).fails(t, 2002)
}

func TestAnAgentSwitchesToANewPhoneVerifiedWithTheSameOpenID(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newClient(t, m.legacy, false)
			old := c.newAgent(t)
			c.submit(t, old)

			// The client verifies the new phone with the same openId, then
			// calls switchPUser with the token it was last given.
			phone := newPhone()
			c.post(t, "/user/proxy/sendPhoneNum", "", params{"openId": old.openID, "telephone": phone}).ok(t)
			latest := c.post(t, "/user/proxy/verifyPhoneNum", "", params{
				"openId": old.openID, "telephone": phone, "phoneNum": c.SMS.LastCode(t, phone),
			}).ok(t).token(t)
			switchReply := c.post(t, "/user/proxy/switchPUser", c.auth(latest), params{"telephone": phone, "openId": old.openID}).ok(t)
			token := latest // legacy mode issues no new session without a code
			if !m.legacy {
				token = switchReply.token(t)
			}

			switched := account{phone: phone, openID: old.openID, token: token}
			if s := c.status(t, switched); s != 0 {
				t.Fatalf("the new phone's status %d, want 0", s)
			}
			if !m.legacy {
				// The old phone lost the openId and was signed out.
				c.post(t, "/user/proxy/identifyPUser", old.token, params{"telephone": old.phone}).fails(t, 2002)
			}
			// Switching back needs the old phone verified again.
			c.post(t, "/user/proxy/switchPUser", c.auth(token), params{"telephone": old.phone, "openId": old.openID}).fails(t, 2021)
			c.afterCooldown()
			back := c.signIn(t, "proxy", old.phone, old.openID)
			c.post(t, "/user/proxy/switchPUser", c.auth(back), params{"telephone": old.phone, "openId": old.openID}).ok(t)
			if s := c.status(t, account{phone: old.phone, token: back}); s != 1 {
				t.Fatalf("the old phone's status %d after switching back, want 1", s)
			}
		})
	}
}

func TestTheDocumentedDealerSequenceStillWorksPastThePerIPCodeThreshold(t *testing.T) {
	// Many users share a carrier's IP. Past SendPerIP codes an hour from one
	// IP, sendPhoneNum wants a captcha answer; the dealer has just answered
	// one with verifyPicCode, as the document's sequence does.
	for _, withPicCode := range []bool{false, true} {
		name := "as the document sends sendPhoneNum"
		if withPicCode {
			name = "when the client adds picCode to sendPhoneNum"
		}
		t.Run(name, func(t *testing.T) {
			c := newClient(t, true, false, func(cfg *identity.Config) { cfg.SendPerIP = 1 })
			c.codeFor(t, "custom", newPhone(), "someone-else-behind-the-same-ip")

			phone, device := newPhone(), "device-behind-nat"
			c.post(t, "/user/dealer/sendGraphCode", "", params{"deviceId": device}).ok(t)
			c.post(t, "/user/dealer/verifyPicCode", "", params{"deviceId": device, "picCode": testCaptcha}).ok(t)
			send := params{"deviceId": device, "telephone": phone}
			if withPicCode {
				send["picCode"] = testCaptcha
			}
			c.post(t, "/user/dealer/sendPhoneNum", "", send).ok(t)
			code := c.SMS.LastCode(t, phone)
			c.post(t, "/user/dealer/verifyPhoneNum", "", params{"deviceId": device, "telephone": phone, "phoneNum": code}).ok(t)
			c.post(t, "/user/dealer/register", "", params{
				"deviceId": device, "telephone": phone, "phoneNum": code, "picCode": testCaptcha, "password": "a long enough passphrase",
			}).ok(t).token(t)
		})
	}
}
