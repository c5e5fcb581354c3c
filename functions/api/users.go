package api

import "net/http"

type createUserRequest struct{}

type userView struct {
	ID    string `json:"id"`
	Token string `json:"token,omitempty"`
	Admin bool   `json:"admin"`
}

func handleCreateUser(a *API) http.Handler {
	return a.withPrincipal(func(w http.ResponseWriter, r *http.Request, p principal) {
		if _, err := decode[createUserRequest](r); err != nil {
			a.writeError(w, r, err)
			return
		}
		id, token := a.newUser()
		writeJSON(w, http.StatusCreated, userView{ID: id, Token: token})
	})
}

func handleGetMe(a *API) http.Handler {
	return a.withPrincipal(func(w http.ResponseWriter, r *http.Request, p principal) {
		writeJSON(w, http.StatusOK, userView{ID: p.ID, Admin: p.Admin})
	})
}
