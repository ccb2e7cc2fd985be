package dashboard

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/sendoka/sendoka/sendoka"
)

func itoa(n int) string { return strconv.Itoa(n) }

type usersData struct {
	Users []*sendoka.User
	// Link is a new invitation's sign-in link, shown once.
	Link  string
	Email string
}

func (h *handler) usersPage(x *rq, status int, d usersData, errMsg string) error {
	users, err := h.c.ListUsers(x.r.Context(), x.p)
	if err != nil {
		return err
	}
	d.Users = users
	l := x.layout(h, "Users", "users")
	l.Error = errMsg
	if d.Link != "" {
		l.Flash = "Invitation created. Send this link to them: it works once, for 72 hours."
	}
	h.pages.render(x.w, status, "users", l, d)
	return nil
}

func (h *handler) users(x *rq) error { return h.usersPage(x, http.StatusOK, usersData{}, "") }

// baseURL is the dashboard's address as the browser reached it, for links to hand out.
func (h *handler) baseURL(r *http.Request) string {
	scheme := "http"
	if h.secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host + h.o.Prefix
}

func (h *handler) inviteUser(x *rq) error {
	req := sendoka.UserRequest{Email: strings.TrimSpace(x.r.PostFormValue("email")), Role: sendoka.Role(x.r.PostFormValue("role")),
		TenantID: strings.TrimSpace(x.r.PostFormValue("tenant_id"))}
	u, err := h.c.CreateUser(x.r.Context(), x.p, req)
	if err != nil {
		if s := statusOf(err); s != http.StatusUnprocessableEntity && s != http.StatusConflict {
			return err
		}
		return h.usersPage(x, http.StatusUnprocessableEntity, usersData{Email: req.Email}, userMessage(err))
	}
	token, err := h.c.CreateSignInLink(x.r.Context(), x.p, u.ID)
	if err != nil {
		return err
	}
	return h.usersPage(x, http.StatusOK, usersData{Link: h.baseURL(x.r) + "/signin/" + token}, "")
}

func (h *handler) deleteUser(x *rq) error {
	if err := h.c.DeleteUser(x.r.Context(), x.p, x.r.PathValue("id")); err != nil {
		return err
	}
	return h.redirect(x, "/users", "User removed; their sessions ended.")
}

func (h *handler) revokeUser(x *rq) error {
	if err := h.c.RevokeSessions(x.r.Context(), x.p, x.r.PathValue("id")); err != nil {
		return err
	}
	if x.r.PathValue("id") == x.user.ID {
		return h.redirect(x, "/login", "")
	}
	return h.redirect(x, "/users", "Their sessions ended.")
}
