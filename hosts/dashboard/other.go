package dashboard

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

type tenantRow struct {
	T     *sendoka.Tenant
	Usage *sendoka.TenantUsage
}

type tenantsData struct {
	Rows []tenantRow
	Next string
}

func (h *handler) tenants(x *rq) error {
	list, err := h.c.ListTenants(x.r.Context(), x.p, sendoka.TenantListParams{Limit: 50, Cursor: x.r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	d := tenantsData{}
	for _, t := range list.Tenants {
		u, err := h.c.GetTenantUsage(x.r.Context(), x.p, t.ID)
		if err != nil {
			return err
		}
		d.Rows = append(d.Rows, tenantRow{T: t, Usage: u})
	}
	if list.NextCursor != "" {
		d.Next = "cursor=" + urlQueryEscape(list.NextCursor)
	}
	return h.page(x, http.StatusOK, "tenants", "Tenants", "tenants", d)
}

func (h *handler) createTenant(x *rq) error {
	_, err := h.c.CreateTenant(x.r.Context(), x.p, &sendoka.TenantRequest{Name: strings.TrimSpace(x.r.PostFormValue("name")),
		Slug: strings.TrimSpace(x.r.PostFormValue("slug"))})
	if err != nil {
		return err
	}
	return h.redirect(x, "/tenants", "Tenant created.")
}

type usageData struct {
	Months []*sendoka.Usage
}

// usage shows the last six calendar months (UTC).
func (h *handler) usage(x *rq) error {
	now := h.c.Now().UTC()
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	var d usageData
	for i := 0; i < 6; i++ {
		from := first.AddDate(0, -i, 0)
		to := from.AddDate(0, 1, 0)
		if i == 0 {
			to = now.Add(time.Second)
		}
		u, err := h.c.Usage(x.r.Context(), x.p, sendoka.UsageQuery{From: from, To: to})
		if err != nil {
			return err
		}
		d.Months = append(d.Months, u)
	}
	return h.page(x, http.StatusOK, "usage", "Usage", "usage", d)
}

type phonesData struct {
	Numbers *sendoka.PhoneNumberList
	Pools   *sendoka.PhonePoolList
}

func (h *handler) phoneNumbers(x *rq) error {
	nums, err := h.c.ListPhoneNumbers(x.r.Context(), x.p, sendoka.ListParams{Limit: 100})
	if err != nil {
		return err
	}
	pools, err := h.c.ListPhonePools(x.r.Context(), x.p, sendoka.ListParams{Limit: 100})
	if err != nil {
		return err
	}
	return h.page(x, http.StatusOK, "phones", "Phone numbers", "phones", phonesData{Numbers: nums, Pools: pools})
}

func (h *handler) audiences(x *rq) error {
	list, err := h.c.ListAudiences(x.r.Context(), x.p, sendoka.ListParams{Limit: 100, Cursor: x.r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	return h.page(x, http.StatusOK, "audiences", "Audiences", "audiences", list)
}

func (h *handler) createAudience(x *rq) error {
	a, err := h.c.CreateAudience(x.r.Context(), x.p, &sendoka.AudienceRequest{Name: strings.TrimSpace(x.r.PostFormValue("name")),
		Description: x.r.PostFormValue("description")})
	if err != nil {
		return err
	}
	return h.redirect(x, "/audiences/"+a.ID, "Audience created.")
}

type audienceData struct {
	A        *sendoka.Audience
	Contacts *sendoka.ContactList
	From     string
}

func (h *handler) audience(x *rq) error {
	a, err := h.c.GetAudience(x.r.Context(), x.p, x.r.PathValue("id"))
	if err != nil {
		return err
	}
	cs, err := h.c.ListContacts(x.r.Context(), x.p, a.ID, sendoka.ContactListParams{Limit: 100, Cursor: x.r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	return h.page(x, http.StatusOK, "audience", a.Name, "audiences", audienceData{A: a, Contacts: cs, From: "news@" + h.c.SandboxDomain()})
}

// maxCSVBytes bounds an uploaded contact list.
const maxCSVBytes = 10 << 20

func (h *handler) importContacts(x *rq) error {
	id := x.r.PathValue("id")
	x.r.Body = http.MaxBytesReader(x.w, x.r.Body, maxCSVBytes)
	f, _, err := x.r.FormFile("file")
	if err != nil {
		return sendoka.Errorf(sendoka.CodeValidation, "choose a CSV file (at most 10 MiB)")
	}
	defer f.Close()
	rows, err := ParseContactsCSV(f)
	if err != nil {
		return err
	}
	var added, failed int
	for start := 0; start < len(rows); start += sendoka.MaxContactBatch {
		end := min(start+sendoka.MaxContactBatch, len(rows))
		res, err := h.c.UpsertContacts(x.r.Context(), x.p, id, rows[start:end])
		if err != nil {
			return err
		}
		for _, r := range res {
			if r.Err != nil {
				failed++
			} else {
				added++
			}
		}
	}
	return h.redirect(x, "/audiences/"+id, "Imported "+strconv.Itoa(added)+" contacts; "+strconv.Itoa(failed)+" rows refused.")
}

func (h *handler) sendAudience(x *rq) error {
	id := x.r.PathValue("id")
	s, err := h.c.SendToAudience(x.r.Context(), x.p, id, &sendoka.AudienceSendRequest{Channel: sendoka.Channel(x.r.PostFormValue("channel")),
		From: strings.TrimSpace(x.r.PostFormValue("from")), Template: strings.TrimSpace(x.r.PostFormValue("template"))})
	if err != nil {
		return err
	}
	return h.redirect(x, "/audiences/"+id+"/sends/"+s.ID, "Send started.")
}

func (h *handler) audienceSend(x *rq) error {
	s, err := h.c.GetAudienceSend(x.r.Context(), x.p, x.r.PathValue("id"), x.r.PathValue("sid"))
	if err != nil {
		return err
	}
	if x.r.Header.Get("HX-Request") != "" {
		status := http.StatusOK
		if s.FinishedAt != nil {
			status = stopPolling
		}
		h.pages.fragment(x.w, status, "audience_send", "progress", x.layout(h, "", ""), s)
		return nil
	}
	return h.page(x, http.StatusOK, "audience_send", "Audience send", "audiences", s)
}
