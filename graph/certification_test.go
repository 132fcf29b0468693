package graph_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carcity/identity/ent/certification"
)

const (
	uploadCertQ = `mutation($k: CertificationImageKind!, $file: Upload!) { uploadCertificationImage(kind: $k, file: $file) { id url } }`
	submitQ     = `mutation($in: SubmitCertificationInput!) { submitCertification(input: $in) { id status idNumber version } }`
	auditQ      = `mutation($in: AuditCertificationInput!) { auditCertification(input: $in) { id status version rejectReason reviews { fromStatus toStatus reason comment reviewer { telephone } } } }`
	validID     = "11010519491231002X"
)

type certData struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	IDNumber string `json:"idNumber"`
	Version  int    `json:"version"`
}

// submit uploads both photos as the agent and submits a certification.
func (e *env) submit(t *testing.T, token, idNumber string) result {
	t.Helper()
	urls := map[string]string{}
	for _, kind := range []string{"ID_FRONT", "QUALIFICATION"} {
		var up struct {
			U struct{ URL string } `json:"uploadCertificationImage"`
		}
		e.upload(t, token, uploadCertQ, map[string]any{"k": kind}, "id.png", pngImage(t)).must(t, &up)
		urls[kind] = up.U.URL
	}
	return e.do(t, token, submitQ, map[string]any{"in": map[string]any{
		"realName": "张三", "idNumber": idNumber, "frontImage": urls["ID_FRONT"], "qualification": urls["QUALIFICATION"],
	}})
}

func TestAgentCertificationIsReviewed(t *testing.T) {
	e := newEnv(t)
	agent := e.signIn(t, "AGENT", "13500000001", "openid-a1")
	admin := e.admin(t)

	var state struct {
		S struct{ Status int } `json:"myCertification"`
	}
	e.do(t, agent.Token, `{ myCertification { status } }`, nil).must(t, &state)
	if state.S.Status != 0 {
		t.Fatalf("status before submitting = %d", state.S.Status)
	}

	var sub struct {
		C certData `json:"submitCertification"`
	}
	e.submit(t, agent.Token, validID).must(t, &sub)
	if sub.C.Status != "UNDER_REVIEW" || sub.C.IDNumber != "110105********002X" {
		t.Fatalf("submitted = %+v", sub.C)
	}

	t.Run("a second submission while under review is a conflict", func(t *testing.T) {
		e.submit(t, agent.Token, validID).wantCode(t, "CONFLICT")
	})
	t.Run("the database never holds the clear ID number", func(t *testing.T) {
		rows, err := e.SQL.QueryContext(context.Background(), "SELECT * FROM certifications")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				var s string
				switch v := v.(type) {
				case string:
					s = v
				case []byte:
					s = string(v)
				}
				if strings.Contains(s, "19491231") {
					t.Fatalf("column %s holds the clear number", cols[i])
				}
			}
		}
	})
	t.Run("an agent cannot audit", func(t *testing.T) {
		e.do(t, agent.Token, auditQ, map[string]any{"in": map[string]any{"id": sub.C.ID, "status": "APPROVED"}}).wantCode(t, "FORBIDDEN")
	})
	t.Run("rejecting needs a reason from the list", func(t *testing.T) {
		e.do(t, admin, auditQ, map[string]any{"in": map[string]any{"id": sub.C.ID, "status": "REJECTED"}}).wantCode(t, "VALIDATION")
	})
	t.Run("a stale expected version is a conflict", func(t *testing.T) {
		e.do(t, admin, auditQ, map[string]any{"in": map[string]any{"id": sub.C.ID, "status": "APPROVED", "expectedVersion": sub.C.Version + 5}}).wantCode(t, "CONFLICT")
	})

	var rejected struct {
		A struct {
			Status       string
			RejectReason string
			Reviews      []struct {
				FromStatus, ToStatus, Reason, Comment string
				Reviewer                              *struct{ Telephone string }
			}
		} `json:"auditCertification"`
	}
	e.do(t, admin, auditQ, map[string]any{"in": map[string]any{
		"id": sub.C.ID, "status": "REJECTED", "reason": "BLURRY_IMAGE", "comment": "请重新拍摄", "expectedVersion": sub.C.Version,
	}}).must(t, &rejected)
	if rejected.A.Status != "REJECTED" || len(rejected.A.Reviews) != 1 || rejected.A.Reviews[0].Reviewer == nil ||
		rejected.A.Reviews[0].FromStatus != "UNDER_REVIEW" || rejected.A.Reviews[0].Reason != "BLURRY_IMAGE" {
		t.Fatalf("rejected = %+v", rejected)
	}

	t.Run("the agent sees the result and the reason but not the reviewer", func(t *testing.T) {
		var mine struct {
			S struct {
				Status        int
				Certification struct {
					RejectReason string
					Reviews      []struct{ Reviewer *struct{ Telephone string } }
				}
			} `json:"myCertification"`
		}
		e.do(t, agent.Token, `{ myCertification { status certification { rejectReason reviews { reviewer { telephone } } } } }`, nil).must(t, &mine)
		if mine.S.Status != 2 || mine.S.Certification.RejectReason != "BLURRY_IMAGE" || mine.S.Certification.Reviews[0].Reviewer != nil {
			t.Fatalf("agent view = %+v", mine)
		}
	})

	var resub struct {
		C certData `json:"submitCertification"`
	}
	e.submit(t, agent.Token, validID).must(t, &resub)
	if resub.C.ID == sub.C.ID || resub.C.Status != "UNDER_REVIEW" {
		t.Fatalf("resubmission = %+v", resub.C)
	}

	t.Run("two admins deciding at once: one wins, the other gets a conflict", func(t *testing.T) {
		var wg sync.WaitGroup
		results := make([]result, 6)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status := "APPROVED"
				if i%2 == 1 {
					status = "REJECTED"
				}
				in := map[string]any{"id": resub.C.ID, "status": status}
				if status == "REJECTED" {
					in["reason"] = "OTHER"
				}
				results[i] = e.do(t, admin, auditQ, map[string]any{"in": in})
			}()
		}
		wg.Wait()
		wins := 0
		for _, r := range results {
			switch r.code() {
			case "":
				wins++
			case "CONFLICT":
			default:
				t.Fatalf("unexpected %+v", r.Errors)
			}
		}
		reviews, _ := e.DB.Review.Query().Count(context.Background())
		if wins != 1 || reviews != 2 {
			t.Fatalf("%d decisions won and %d reviews exist; want 1 and 2", wins, reviews)
		}
	})
}

func TestCertificationInputIsChecked(t *testing.T) {
	e := newEnv(t)
	agent := e.signIn(t, "AGENT", "13500000002", "openid-a2")
	other := e.signIn(t, "AGENT", "13500000003", "openid-a3")

	t.Run("an ID number with a wrong check digit is refused", func(t *testing.T) {
		e.submit(t, agent.Token, "110105194912310021").wantCode(t, "VALIDATION")
	})
	t.Run("an ID number with an impossible birth date is refused", func(t *testing.T) {
		e.submit(t, agent.Token, "110105194902300028").wantCode(t, "VALIDATION")
	})
	t.Run("a foreign image URL is refused", func(t *testing.T) {
		e.do(t, agent.Token, submitQ, map[string]any{"in": map[string]any{
			"realName": "张三", "idNumber": validID, "frontImage": "https://evil.example/id.jpg", "qualification": "https://evil.example/q.jpg",
		}}).wantCode(t, "VALIDATION")
	})
	t.Run("another agent's upload is refused", func(t *testing.T) {
		var up struct {
			U struct{ URL string } `json:"uploadCertificationImage"`
		}
		e.upload(t, other.Token, uploadCertQ, map[string]any{"k": "ID_FRONT"}, "id.png", pngImage(t)).must(t, &up)
		e.do(t, agent.Token, submitQ, map[string]any{"in": map[string]any{
			"realName": "张三", "idNumber": validID, "frontImage": up.U.URL, "qualification": up.U.URL,
		}}).wantCode(t, "VALIDATION")
	})
	t.Run("a non-image upload is refused", func(t *testing.T) {
		e.upload(t, agent.Token, uploadCertQ, map[string]any{"k": "ID_FRONT"}, "id.png", []byte("<html>not an image</html>")).wantCode(t, "INVALID_IMAGE")
	})
	t.Run("ID photos are private: the URL without its signature is refused", func(t *testing.T) {
		var up struct {
			U struct{ URL string } `json:"uploadCertificationImage"`
		}
		e.upload(t, agent.Token, uploadCertQ, map[string]any{"k": "ID_FRONT"}, "id.png", pngImage(t)).must(t, &up)
		if status, _ := get(t, up.U.URL); status != 200 {
			t.Fatalf("signed URL: %d", status)
		}
		bare, _, _ := strings.Cut(up.U.URL, "?")
		if status, _ := get(t, bare); status != 403 {
			t.Fatalf("unsigned URL: %d", status)
		}
		e.Clock.Advance(11 * time.Minute)
		if status, _ := get(t, up.U.URL); status != 403 {
			t.Fatalf("expired URL: %d", status)
		}
	})
	t.Run("customers cannot submit", func(t *testing.T) {
		customer := e.signIn(t, "CUSTOMER", "13500000004", "openid-c4")
		e.upload(t, customer.Token, uploadCertQ, map[string]any{"k": "ID_FRONT"}, "id.png", pngImage(t)).wantCode(t, "FORBIDDEN")
	})
}

func TestDuplicateIDNumberIsFlaggedToReviewers(t *testing.T) {
	e := newEnv(t)
	a := e.signIn(t, "AGENT", "13500000011", "oa")
	b := e.signIn(t, "AGENT", "13500000012", "ob")
	admin := e.admin(t)
	var first struct {
		C certData `json:"submitCertification"`
	}
	e.submit(t, a.Token, validID).must(t, &first)
	e.submit(t, b.Token, strings.ToLower(validID)).must(t, nil)
	var out struct {
		N struct {
			IDNumber   string
			Duplicates []struct{ User struct{ Telephone string } }
		} `json:"node"`
	}
	e.do(t, admin, `query($id: ID!) { node(id: $id) { ... on Certification { idNumber duplicates { user { telephone } } } } }`, map[string]any{"id": first.C.ID}).must(t, &out)
	if out.N.IDNumber != validID || len(out.N.Duplicates) != 1 || out.N.Duplicates[0].User.Telephone != "13500000012" {
		t.Fatalf("admin view = %+v", out)
	}
	t.Run("the admin's read of the clear number is in the audit log", func(t *testing.T) {
		var ev struct {
			E struct {
				TotalCount int
				Edges      []struct{ Node struct{ Action string } }
			} `json:"accountEvents"`
		}
		e.do(t, admin, `{ accountEvents(first: 50, where: {action: PII_VIEWED}) { totalCount edges { node { action } } } }`, nil).must(t, &ev)
		if ev.E.TotalCount == 0 {
			t.Fatal("no PII_VIEWED event")
		}
	})
	t.Run("the owner cannot see duplicates", func(t *testing.T) {
		e.do(t, a.Token, `query($id: ID!) { node(id: $id) { ... on Certification { duplicates { id } } } }`, map[string]any{"id": first.C.ID}).wantCode(t, "FORBIDDEN")
	})
}

func TestAdminListsAreAdminOnly(t *testing.T) {
	e := newEnv(t)
	agent := e.signIn(t, "AGENT", "13500000021", "o21")
	e.signIn(t, "CUSTOMER", "13500000022", "o22")
	e.signIn(t, "AGENT", "13500000023", "o23")
	admin := e.admin(t)
	e.submit(t, agent.Token, validID).must(t, nil)

	const usersQ = `query($w: UserWhereInput, $first: Int, $after: Cursor) { users(first: $first, after: $after, where: $w, orderBy: {field: CREATED_AT, direction: ASC}) { totalCount pageInfo { hasNextPage endCursor } edges { node { telephone kind openId certification { status } } } } }`
	t.Run("anonymous callers are refused", func(t *testing.T) {
		e.do(t, "", usersQ, nil).wantCode(t, "UNAUTHENTICATED")
		e.do(t, "", `{ certifications { totalCount } }`, nil).wantCode(t, "UNAUTHENTICATED")
	})
	t.Run("non-admins are refused", func(t *testing.T) {
		e.do(t, agent.Token, usersQ, nil).wantCode(t, "FORBIDDEN")
		e.do(t, agent.Token, `{ accountEvents { totalCount } }`, nil).wantCode(t, "FORBIDDEN")
	})
	t.Run("pages are capped", func(t *testing.T) {
		e.do(t, admin, usersQ, map[string]any{"first": 1000}).wantCode(t, "VALIDATION")
	})
	t.Run("admins filter by kind and phone and page through with cursors", func(t *testing.T) {
		type page struct {
			U struct {
				TotalCount int
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
				Edges []struct {
					Node struct {
						Telephone, Kind string
						OpenID          *string `json:"openId"`
					}
				}
			} `json:"users"`
		}
		var p1 page
		e.do(t, admin, usersQ, map[string]any{"w": map[string]any{"kind": "AGENT"}, "first": 1}).must(t, &p1)
		if p1.U.TotalCount != 2 || len(p1.U.Edges) != 1 || !p1.U.PageInfo.HasNextPage || p1.U.Edges[0].Node.OpenID == nil {
			t.Fatalf("page 1 = %+v", p1)
		}
		var p2 page
		e.do(t, admin, usersQ, map[string]any{"w": map[string]any{"kind": "AGENT"}, "first": 1, "after": p1.U.PageInfo.EndCursor}).must(t, &p2)
		if len(p2.U.Edges) != 1 || p2.U.Edges[0].Node.Telephone == p1.U.Edges[0].Node.Telephone || p2.U.PageInfo.HasNextPage {
			t.Fatalf("page 2 = %+v", p2)
		}
		var byPhone page
		e.do(t, admin, usersQ, map[string]any{"w": map[string]any{"telephoneContains": "0022"}}).must(t, &byPhone)
		if byPhone.U.TotalCount != 1 || byPhone.U.Edges[0].Node.Kind != "CUSTOMER" {
			t.Fatalf("by phone = %+v", byPhone)
		}
		var certs struct {
			C struct{ TotalCount int } `json:"certifications"`
		}
		e.do(t, admin, `{ certifications(where: {status: UNDER_REVIEW}) { totalCount } }`, nil).must(t, &certs)
		if certs.C.TotalCount != 1 {
			t.Fatalf("certifications = %+v", certs)
		}
	})
	t.Run("node lookups of other users' objects are hidden", func(t *testing.T) {
		c, err := e.DB.Certification.Query().Where(certification.StatusEQ("UNDER_REVIEW")).Only(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		other := e.signIn(t, "AGENT", "13500000024", "o24")
		e.do(t, other.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": c.ID}).wantCode(t, "NOT_FOUND")
		var mine struct {
			N *struct{ ID string } `json:"node"`
		}
		e.do(t, agent.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": c.ID}).must(t, &mine)
		if mine.N == nil {
			t.Fatal("the owner cannot see their certification")
		}
		var me struct {
			Me struct{ OpenID *string } `json:"me"`
		}
		e.do(t, agent.Token, `{ me { openId } }`, nil).must(t, &me)
		if me.Me.OpenID != nil {
			t.Fatalf("a non-admin sees openId %q", *me.Me.OpenID)
		}
	})
}

func TestAgentSwitchesToAnotherPhone(t *testing.T) {
	e := newEnv(t)
	old := e.signIn(t, "AGENT", "13500000031", "wx-1")
	e.do(t, "", sendCode, map[string]any{"in": map[string]any{"channel": "AGENT", "telephone": "13500000032", "openId": "wx-1"}}).must(t, nil)
	var sw struct {
		S authData `json:"switchAccount"`
	}
	e.do(t, old.Token, `mutation($c: String) { switchAccount(input: {telephone: "13500000032", code: $c}) { token user { id telephone kind } } }`,
		map[string]any{"c": e.SMS.LastCode(t, "13500000032")}).must(t, &sw)
	if sw.S.User.Telephone != "13500000032" || sw.S.Token == "" {
		t.Fatalf("switch = %+v", sw)
	}
	e.do(t, old.Token, `{ me { id } }`, nil).wantCode(t, "UNAUTHENTICATED")
	ctx := context.Background()
	oldUser, _ := e.DB.User.Get(ctx, mustAtoi(t, old.User.ID))
	if oldUser.OpenID != nil {
		t.Fatalf("old account kept the openId")
	}
	t.Run("switching without a verified phone is refused", func(t *testing.T) {
		e.do(t, sw.S.Token, `mutation { switchAccount(input: {telephone: "13500000033"}) { token } }`, nil).wantCode(t, "PHONE_NOT_VERIFIED")
	})
}

func TestAdminUserListCostsAFixedNumberOfQueries(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t)
	for i := range 6 {
		a := e.signIn(t, "AGENT", fmt.Sprintf("135000001%02d", i), fmt.Sprintf("oq%d", i))
		e.submit(t, a.Token, validID).must(t, nil)
	}
	query := `{ users(first: 50) { edges { node { telephone certification { status reviews { toStatus } } } } } }`
	run := func() int64 {
		before := e.Statements()
		var out struct {
			U struct {
				Edges []struct {
					Node struct {
						Certification *struct{ Status string }
					}
				}
			} `json:"users"`
		}
		e.do(t, admin, query, nil).must(t, &out)
		withCert := 0
		for _, edge := range out.U.Edges {
			if edge.Node.Certification != nil {
				withCert++
			}
		}
		if withCert != 6 {
			t.Fatalf("%d users with a certification, want 6", withCert)
		}
		return e.Statements() - before
	}
	run() // the first request looks the session up and records its use
	// With the session cached: users, certifications, reviews.
	if n := run(); n > 3 {
		t.Fatalf("the listing ran %d statements, want at most 3", n)
	}
}

func TestDeepOrCostlyQueriesAreRefused(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t)
	deep := `{ me { certification { user { certification { user { certification { user { certification { user { certification { user { certification { user { id } } } } } } } } } } } } }`
	e.do(t, admin, deep, nil).wantCode(t, "VALIDATION")
	wide := `{ users(first: 100) { edges { node { certifications(first: 100) { edges { node { reviews { id } } } } } } } }`
	e.do(t, admin, wide, nil).wantCode(t, "VALIDATION")
}

func TestNodeLookupsOfMissingOrMalformedIDs(t *testing.T) {
	e := newEnv(t)
	agent := e.signIn(t, "AGENT", "13500000041", "o41")
	e.do(t, agent.Token, `{ node(id: "4294967999") { id } }`, nil).wantCode(t, "NOT_FOUND")
	e.do(t, agent.Token, `{ node(id: "999999999999999") { id } }`, nil).wantCode(t, "NOT_FOUND")
	e.do(t, agent.Token, `{ node(id: "abc") { id } }`, nil).wantCode(t, "VALIDATION")
	var out struct {
		Nodes []*struct{ ID string } `json:"nodes"`
	}
	e.do(t, agent.Token, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{agent.User.ID, "4294967999"}}).must(t, &out)
	if len(out.Nodes) != 2 || out.Nodes[0] == nil || out.Nodes[1] != nil {
		t.Fatalf("nodes = %+v", out.Nodes)
	}
}
