package dashboard

import (
	"net/http"
	"strings"

	"github.com/sendoka/sendoka/sendoka"
)

type keysData struct {
	Keys        []*sendoka.APIKey
	Permissions []sendoka.Permission
	// Created is the new key's plaintext, shown once.
	Created string
}

func (h *handler) keysPage(x *rq, status int, created, errMsg string) error {
	keys, err := h.c.ListAPIKeys(x.r.Context(), x.p)
	if err != nil {
		return err
	}
	l := x.layout(h, "API keys", "keys")
	l.Error = errMsg
	if created != "" {
		l.Flash = "Key created. Copy it now: it is not shown again."
	}
	h.pages.render(x.w, status, "keys", l, keysData{Keys: keys, Permissions: sendoka.Permissions, Created: created})
	return nil
}

func (h *handler) apiKeys(x *rq) error { return h.keysPage(x, http.StatusOK, "", "") }

func (h *handler) createAPIKey(x *rq) error {
	if err := x.r.ParseForm(); err != nil {
		return sendoka.Errorf(sendoka.CodeValidation, "the form could not be read")
	}
	params := sendoka.CreateKeyParams{Name: strings.TrimSpace(x.r.PostFormValue("name")), Mode: sendoka.Mode(x.r.PostFormValue("mode"))}
	for _, p := range x.r.PostForm["scopes"] {
		params.Permissions = append(params.Permissions, sendoka.Permission(p))
	}
	_, plain, err := h.c.CreateAPIKey(x.r.Context(), x.p, params)
	if err != nil {
		if statusOf(err) != http.StatusUnprocessableEntity {
			return err
		}
		return h.keysPage(x, http.StatusUnprocessableEntity, "", userMessage(err))
	}
	return h.keysPage(x, http.StatusOK, plain, "")
}

func (h *handler) revokeAPIKey(x *rq) error {
	if err := h.c.RevokeAPIKey(x.r.Context(), x.p, x.r.PathValue("id")); err != nil {
		return err
	}
	return h.redirect(x, "/api-keys", "Key revoked.")
}
