/*
 * common/email_invite.c - the invitation mail (see email.h)
 *
 * What Parsec 2.12's generate_invite_email() sends (parsec/backend/invite.py,
 * templates invitation_mail.txt and .html): the subject "[Parsec] <greeter>
 * invited you to <org>" or "[Parsec] New device invitation to <org>", a text
 * and an HTML part with the invitation link, links to download Parsec and to
 * its documentation, Reply-To the greeter when they have a human handle.
 * Parsec had English only; French is ours (--email-language fr).  Parsec's
 * HTML showed a logo from <backend>/static/parsec-vert.png, which this
 * server does not serve: the HTML here carries no image.
 *
 * Templates hold {name} placeholders: {greeter}, {organization}, {url},
 * and in the HTML frame {lang} and {title}.  Values are put in as they are
 * in the subject and the text part, and through html_escape() in the HTML
 * part; an unknown {...} stays as written.
 */
#include "email_internal.h"

#include "arena.h"
#include "backend_addr.h"
#include "html.h"
#include "log.h"
#include "proto.h"
#include "strbuf.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

/* French typography puts a no-break space before ':' (U+00A0 in UTF-8). */
#define NBSP "\xc2\xa0"

#define DOWNLOAD_URL "https://parsec.cloud/get-parsec"
#define DOCS_URL     "https://docs.parsec.cloud"

typedef struct {
    const char *subject;
    const char *text;
    const char *html; /* the body's content, inside HTML_HEAD ... HTML_FOOT */
} tmpl_t;

typedef struct {
    const char *code; /* --email-language */
    tmpl_t user, device;
} lang_t;

/* Styles are inline: mail clients drop <style> blocks. */
#define P     "<p style=\"margin:0 0 16px\">"
#define LI    "<li style=\"margin-bottom:12px\">"
#define SMALL "<p style=\"margin:0 0 16px;font-size:13px;color:#5a6478\">"
#define BUTTON                                                                                     \
    "<a href=\"{url}\" style=\"display:inline-block;margin-top:8px;padding:10px 20px;"             \
    "background:#0f4c9c;color:#ffffff;text-decoration:none;border-radius:4px;"                     \
    "font-weight:bold\">"
#define RAW_URL "<a href=\"{url}\" style=\"color:#0f4c9c;word-break:break-all\">{url}</a>"

static const char HTML_HEAD[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"{lang}\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width\">\n"
    "<title>{title}</title>\n"
    "</head>\n"
    "<body style=\"margin:0;padding:0;background:#f4f6fa;color:#1d2433;"
    "font-family:Arial,Helvetica,sans-serif\">\n"
    "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" "
    "style=\"background:#f4f6fa\"><tr><td align=\"center\" style=\"padding:24px 12px\">\n"
    "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" "
    "style=\"max-width:580px;background:#ffffff;border-radius:8px\"><tr>"
    "<td style=\"padding:32px;font-size:15px;line-height:1.5\">\n"
    "<h1 style=\"margin:0 0 24px;font-size:22px;font-weight:normal;color:#0f4c9c\">Parsec</h1>\n";

static const char HTML_FOOT[] = "</td></tr></table>\n"
                                "</td></tr></table>\n"
                                "</body>\n"
                                "</html>\n";

static const lang_t langs[] = {
    {
        "en",
        {
            "[Parsec] {greeter} invited you to {organization}",
            "Hello,\n"
            "\n"
            "{greeter} has invited you to join the {organization} organization on Parsec.\n"
            "\n"
            "To accept the invitation:\n"
            "\n"
            "1. Install Parsec if it is not on your computer yet:\n"
            "   " DOWNLOAD_URL "\n"
            "\n"
            "2. Click this link to open the invitation in Parsec:\n"
            "   {url}\n"
            "\n"
            "3. Get in touch with {greeter} and follow the steps Parsec shows you.\n"
            "   You will confirm each other's identity by exchanging short codes.\n"
            "\n"
            "To learn more, read the Parsec documentation: " DOCS_URL "\n"
            "\n"
            "If you were not expecting this invitation, you can ignore this email.\n",
            P "Hello,</p>\n" P "<strong>{greeter}</strong> has invited you to join the "
              "<strong>{organization}</strong> organization on Parsec.</p>\n" P
              "To accept the invitation:</p>\n"
              "<ol style=\"margin:0 0 16px;padding-left:24px\">\n" LI
              "Install Parsec if it is not on your computer yet: "
              "<a href=\"" DOWNLOAD_URL "\" style=\"color:#0f4c9c\">download Parsec</a>.</li>\n" LI
              "Click this button to open the invitation in Parsec:<br>\n" BUTTON
              "Open the invitation</a></li>\n"
              "<li>Get in touch with <strong>{greeter}</strong> and follow the steps Parsec "
              "shows you. You will confirm each other's identity by exchanging short "
              "codes.</li>\n"
              "</ol>\n" SMALL "If the button does not work, copy this link into your "
              "browser:<br>\n" RAW_URL "</p>\n" P "To learn more, read the "
              "<a href=\"" DOCS_URL
              "\" style=\"color:#0f4c9c\">Parsec documentation</a>.</p>\n" SMALL
              "If you were not expecting this invitation, you can ignore this email.</p>\n",
        },
        {
            "[Parsec] New device invitation to {organization}",
            "Hello,\n"
            "\n"
            "You have received an invitation to add a new device to the {organization}\n"
            "organization on Parsec.\n"
            "\n"
            "On the new device:\n"
            "\n"
            "1. Install Parsec if it is not there yet:\n"
            "   " DOWNLOAD_URL "\n"
            "\n"
            "2. Click this link to open the invitation in Parsec:\n"
            "   {url}\n"
            "\n"
            "3. Then, from a device already part of the organization, start greeting\n"
            "   the new device and follow the steps Parsec shows on both devices.\n"
            "\n"
            "To learn more, read the Parsec documentation: " DOCS_URL "\n"
            "\n"
            "If you did not ask for this invitation, you can ignore this email.\n",
            P "Hello,</p>\n" P "You have received an invitation to add a new device to the "
              "<strong>{organization}</strong> organization on Parsec.</p>\n" P
              "On the new device:</p>\n"
              "<ol style=\"margin:0 0 16px;padding-left:24px\">\n" LI
              "Install Parsec if it is not there yet: "
              "<a href=\"" DOWNLOAD_URL "\" style=\"color:#0f4c9c\">download Parsec</a>.</li>\n" LI
              "Click this button to open the invitation in Parsec:<br>\n" BUTTON
              "Open the invitation</a></li>\n"
              "<li>Then, from a device already part of the organization, start greeting the new "
              "device and follow the steps Parsec shows on both devices.</li>\n"
              "</ol>\n" SMALL "If the button does not work, copy this link into your "
              "browser:<br>\n" RAW_URL "</p>\n" P "To learn more, read the "
              "<a href=\"" DOCS_URL
              "\" style=\"color:#0f4c9c\">Parsec documentation</a>.</p>\n" SMALL
              "If you did not ask for this invitation, you can ignore this email.</p>\n",
        },
    },
    {
        "fr",
        {
            "[Parsec] {greeter} vous invite à rejoindre {organization}",
            "Bonjour,\n"
            "\n"
            "{greeter} vous invite à rejoindre l'organisation {organization} sur Parsec.\n"
            "\n"
            "Pour accepter l'invitation" NBSP ":\n"
            "\n"
            "1. Installez Parsec s'il n'est pas encore sur votre ordinateur" NBSP ":\n"
            "   " DOWNLOAD_URL "\n"
            "\n"
            "2. Cliquez sur ce lien pour afficher l'invitation dans Parsec" NBSP ":\n"
            "   {url}\n"
            "\n"
            "3. Prenez contact avec {greeter} et suivez les étapes affichées par Parsec.\n"
            "   Vous confirmerez mutuellement votre identité en échangeant des codes courts.\n"
            "\n"
            "Pour en savoir plus, consultez la documentation de Parsec" NBSP ": " DOCS_URL "\n"
            "\n"
            "Si vous n'attendiez pas cette invitation, vous pouvez ignorer ce message.\n",
            P "Bonjour,</p>\n" P "<strong>{greeter}</strong> vous invite à rejoindre "
              "l'organisation <strong>{organization}</strong> sur Parsec.</p>\n" P
              "Pour accepter l'invitation" NBSP ":</p>\n"
              "<ol style=\"margin:0 0 16px;padding-left:24px\">\n" LI
              "Installez Parsec s'il n'est pas encore sur votre ordinateur" NBSP ": "
              "<a href=\"" DOWNLOAD_URL
              "\" style=\"color:#0f4c9c\">télécharger Parsec</a>.</li>\n" LI
              "Cliquez sur ce bouton pour afficher l'invitation dans Parsec" NBSP ":<br>\n" BUTTON
              "Ouvrir l'invitation</a></li>\n"
              "<li>Prenez contact avec <strong>{greeter}</strong> et suivez les étapes affichées "
              "par Parsec. Vous confirmerez mutuellement votre identité en échangeant des codes "
              "courts.</li>\n"
              "</ol>\n" SMALL "Si le bouton ne fonctionne pas, copiez ce lien dans votre "
              "navigateur" NBSP ":<br>\n" RAW_URL "</p>\n" P "Pour en savoir plus, consultez la "
              "<a href=\"" DOCS_URL
              "\" style=\"color:#0f4c9c\">documentation de Parsec</a>.</p>\n" SMALL
              "Si vous n'attendiez pas cette invitation, vous pouvez ignorer ce message.</p>\n",
        },
        {
            "[Parsec] Invitation à ajouter un appareil à {organization}",
            "Bonjour,\n"
            "\n"
            "Vous avez reçu une invitation pour ajouter un nouvel appareil à l'organisation\n"
            "{organization} sur Parsec.\n"
            "\n"
            "Sur le nouvel appareil" NBSP ":\n"
            "\n"
            "1. Installez Parsec s'il n'y est pas encore" NBSP ":\n"
            "   " DOWNLOAD_URL "\n"
            "\n"
            "2. Cliquez sur ce lien pour afficher l'invitation dans Parsec" NBSP ":\n"
            "   {url}\n"
            "\n"
            "3. Ensuite, depuis un appareil qui fait déjà partie de l'organisation,\n"
            "   lancez l'accueil du nouvel appareil et suivez les étapes affichées\n"
            "   par Parsec sur les deux appareils.\n"
            "\n"
            "Pour en savoir plus, consultez la documentation de Parsec" NBSP ": " DOCS_URL "\n"
            "\n"
            "Si vous n'êtes pas à l'origine de cette invitation, vous pouvez ignorer ce message.\n",
            P "Bonjour,</p>\n" P "Vous avez reçu une invitation pour ajouter un nouvel appareil à "
              "l'organisation <strong>{organization}</strong> sur Parsec.</p>\n" P
              "Sur le nouvel appareil" NBSP ":</p>\n"
              "<ol style=\"margin:0 0 16px;padding-left:24px\">\n" LI
              "Installez Parsec s'il n'y est pas encore" NBSP ": "
              "<a href=\"" DOWNLOAD_URL
              "\" style=\"color:#0f4c9c\">télécharger Parsec</a>.</li>\n" LI
              "Cliquez sur ce bouton pour afficher l'invitation dans Parsec" NBSP ":<br>\n" BUTTON
              "Ouvrir l'invitation</a></li>\n"
              "<li>Ensuite, depuis un appareil qui fait déjà partie de l'organisation, lancez "
              "l'accueil du nouvel appareil et suivez les étapes affichées par Parsec sur les deux "
              "appareils.</li>\n"
              "</ol>\n" SMALL "Si le bouton ne fonctionne pas, copiez ce lien dans votre "
              "navigateur" NBSP ":<br>\n" RAW_URL "</p>\n" P "Pour en savoir plus, consultez la "
              "<a href=\"" DOCS_URL
              "\" style=\"color:#0f4c9c\">documentation de Parsec</a>.</p>\n" SMALL
              "Si vous n'êtes pas à l'origine de cette invitation, vous pouvez ignorer ce "
              "message.</p>\n",
        },
    },
};

typedef struct {
    const char *name, *value;
} var_t;

/* render - tmpl with each known {name} replaced by its value, through
 * html_escape() when a is not NULL. */
static void render(strbuf_t *out, const char *tmpl, const var_t *vars, size_t nvars, arena_t *a)
{
    for (const char *p = tmpl; *p;) {
        const char *brace = strchr(p, '{');
        if (!brace) {
            strbuf_puts(out, p);
            break;
        }
        strbuf_append(out, p, (size_t)(brace - p));
        p = brace;
        const char *close = strchr(brace, '}');
        const var_t *v = NULL;
        for (size_t i = 0; close && i < nvars && !v; i++)
            if (strlen(vars[i].name) == (size_t)(close - brace - 1) &&
                strncmp(brace + 1, vars[i].name, (size_t)(close - brace - 1)) == 0)
                v = &vars[i];
        if (!v) {
            strbuf_putc(out, '{');
            p++;
            continue;
        }
        strbuf_puts(out, a ? html_escape(a, v->value) : v->value);
        p = close + 1;
    }
}

/* token_ok - 32 lowercase hex digits (docs/protocol.md: InvitationToken). */
static bool token_ok(const char *t)
{
    if (!t || strlen(t) != 32)
        return false;
    for (const char *p = t; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

const char *email_invitation_recipient(const email_invitation_t *inv)
{
    return inv->type == EMAIL_INVITE_USER ? inv->claimer_email : inv->greeter_email;
}

char *email_invitation_url(const char *backend_addr, const email_invitation_t *inv)
{
    backend_addr_t a;
    if (!backend_addr || !backend_addr_parse(backend_addr, &a))
        return NULL;
    if (!proto_valid_organization_id(inv->organization_id) || !token_ok(inv->token))
        return NULL;
    /* neither the id ([A-Za-z0-9_-]) nor the token (hex) needs percent-encoding */
    char *base = backend_addr_http_url(&a);
    char *url =
        xasprintf("%s/redirect/%s?action=%s&token=%s", base, inv->organization_id,
                  inv->type == EMAIL_INVITE_USER ? "claim_user" : "claim_device", inv->token);
    free(base);
    return url;
}

/* plain_label - label with every control character (line breaks included)
 * made a space (malloc'd).  Protocol labels have none (docs/protocol.md
 * 2.6); should one come anyway, the text reads the same and no reader of
 * the headers meets a line break inside a name. */
static char *plain_label(const char *label)
{
    char *s = xstrdup(label);
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return s;
}

char *email_invitation_compose(const cfg_t *cfg, const email_invitation_t *inv, time_t now,
                               size_t *len, email_result *failure)
{
    char *url = NULL, *msg = NULL, *greeter = NULL;
    strbuf_t subject = STRBUF_INIT, text = STRBUF_INIT, html = STRBUF_INIT;
    arena_t *a = NULL;
    const char *recipient = email_invitation_recipient(inv);
    *failure = EMAIL_NOT_AVAILABLE;

    if (!proto_valid_email(recipient)) {
        /* not even logged as given: it may hold anything */
        log_warning("invitation email not sent: the recipient is not a valid address");
        *failure = EMAIL_BAD_RECIPIENT;
        goto cleanup;
    }
    if (!cfg->email_sender) {
        log_warning("invitation email to %s not sent: no --email-sender", recipient);
        goto cleanup;
    }
    url = email_invitation_url(cfg->backend_addr, inv);
    if (!url) {
        /* the token is never logged, even when malformed */
        log_warning("invitation email to %s not sent: %s", recipient,
                    !cfg->backend_addr                                   ? "no --backend-addr"
                    : !proto_valid_organization_id(inv->organization_id) ? "invalid organization id"
                    : !token_ok(inv->token)
                        ? "invalid token"
                        : "--backend-addr is not parsec://host[:port][?no_ssl=true]");
        goto cleanup;
    }

    const char *reply_addr = NULL;
    if (inv->type == EMAIL_INVITE_USER) {
        bool handle = inv->greeter_label && *inv->greeter_label && inv->greeter_email;
        const char *name = handle ? inv->greeter_label : inv->greeter_user_id;
        if (!name || !*name) {
            log_warning("invitation email to %s not sent: no greeter name", recipient);
            goto cleanup;
        }
        greeter = plain_label(name);
        if (handle && proto_valid_email(inv->greeter_email))
            reply_addr = inv->greeter_email;
    }

    const lang_t *lang = &langs[0];
    for (size_t i = 0; i < sizeof langs / sizeof *langs; i++)
        if (cfg->email_language && strcmp(cfg->email_language, langs[i].code) == 0)
            lang = &langs[i];
    const tmpl_t *t = inv->type == EMAIL_INVITE_USER ? &lang->user : &lang->device;

    var_t vars[5] = {
        {"greeter", greeter ? greeter : ""},
        {"organization", inv->organization_id},
        {"url", url},
        {"lang", lang->code},
        {"title", NULL},
    };
    render(&subject, t->subject, vars, 3, NULL);
    vars[4].value = subject.s;
    render(&text, t->text, vars, 3, NULL);
    a = arena_new();
    render(&html, HTML_HEAD, vars, 5, a);
    render(&html, t->html, vars, 3, a);
    strbuf_puts(&html, HTML_FOOT);

    email_message_t m = {
        .from = cfg->email_sender,
        .to = recipient,
        .reply_to_name = reply_addr ? greeter : NULL,
        .reply_to_addr = reply_addr,
        .subject = subject.s,
        .text = text.s,
        .html = html.s,
    };
    msg = email_compose(&m, now, len);
    if (!msg)
        log_warning("invitation email to %s not sent: --email-sender is not a usable address, "
                    "or no random bytes",
                    recipient);
cleanup:
    if (a)
        arena_free(a);
    strbuf_free(&subject);
    strbuf_free(&text);
    strbuf_free(&html);
    free(greeter);
    free(url);
    return msg;
}

email_result email_send_invitation(const cfg_t *cfg, const email_invitation_t *inv)
{
    size_t len;
    email_result failure;
    char *msg = email_invitation_compose(cfg, inv, time(NULL), &len, &failure);
    if (!msg)
        return failure;
    email_result r = email_send(cfg, email_invitation_recipient(inv), msg, len);
    free(msg);
    return r;
}
