package dashboard

import (
	"net/http"
	"strings"

	"github.com/sendoka/sendoka/sendoka"
)

type domainsData struct {
	List *sendoka.DomainList
	Name string
}

func (h *handler) domains(x *rq) error {
	list, err := h.c.ListDomains(x.r.Context(), x.p, sendoka.ListParams{Limit: 100, Cursor: x.r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	return h.page(x, http.StatusOK, "domains", "Domains", "domains", domainsData{List: list})
}

func (h *handler) createDomain(x *rq) error {
	name := strings.TrimSpace(x.r.PostFormValue("name"))
	d, err := h.c.CreateDomain(x.r.Context(), x.p, &sendoka.DomainRequest{Name: name})
	if err != nil {
		if s := statusOf(err); s != http.StatusUnprocessableEntity && s != http.StatusConflict {
			return err
		}
		list, lerr := h.c.ListDomains(x.r.Context(), x.p, sendoka.ListParams{Limit: 100})
		if lerr != nil {
			return lerr
		}
		l := x.layout(h, "Domains", "domains")
		l.Error = userMessage(err)
		h.pages.render(x.w, http.StatusUnprocessableEntity, "domains", l, domainsData{List: list, Name: name})
		return nil
	}
	return h.redirect(x, "/domains/"+d.ID, "Domain added: publish the records below, then verify.")
}

type domainData struct {
	D      *sendoka.Domain
	Warmup sendoka.WarmupStatus
}

func (h *handler) domain(x *rq) error {
	d, err := h.c.GetDomain(x.r.Context(), x.p, x.r.PathValue("id"))
	if err != nil {
		return err
	}
	w, err := h.c.Warmup(x.r.Context(), d)
	if err != nil {
		return err
	}
	return h.page(x, http.StatusOK, "domain", d.Name, "domains", domainData{D: d, Warmup: w})
}

func (h *handler) verifyDomain(x *rq) error {
	d, err := h.c.VerifyDomain(x.r.Context(), x.p, x.r.PathValue("id"))
	if err != nil {
		return err
	}
	msg := "Checked: the domain is " + string(d.Status) + "."
	return h.redirect(x, "/domains/"+d.ID, msg)
}

func (h *handler) deleteDomain(x *rq) error {
	if err := h.c.DeleteDomain(x.r.Context(), x.p, x.r.PathValue("id")); err != nil {
		return err
	}
	return h.redirect(x, "/domains", "Domain deleted.")
}
