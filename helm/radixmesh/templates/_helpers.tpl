{{/*
Names, labels and the small decisions shared by several templates.
*/}}

{{- define "radixmesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: <release>-<chart>, or <release> when it already contains the chart
name. Truncated to 52 characters so that suffixed names (-mesh, -admin) and
the StatefulSet's controller-revision-hash label stay within 63.
*/}}
{{- define "radixmesh.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "radixmesh.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "radixmesh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "radixmesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: router
{{- end }}

{{- define "radixmesh.labels" -}}
helm.sh/chart: {{ include "radixmesh.chart" . }}
{{ include "radixmesh.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "radixmesh.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "radixmesh.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "radixmesh.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/* Headless Service the peers find each other through (also the StatefulSet's serviceName). */}}
{{- define "radixmesh.meshServiceName" -}}
{{- printf "%s-mesh" (include "radixmesh.fullname" .) }}
{{- end }}

{{- define "radixmesh.meshServiceFQDN" -}}
{{- printf "%s.%s.svc.%s" (include "radixmesh.meshServiceName" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{- define "radixmesh.meshSecretName" -}}
{{- .Values.mesh.secret.existingSecret | default (printf "%s-mesh" (include "radixmesh.fullname" .)) }}
{{- end }}

{{- define "radixmesh.adminSecretName" -}}
{{- .Values.admin.token.existingSecret | default (printf "%s-admin" (include "radixmesh.fullname" .)) }}
{{- end }}

{{/*
"true" when the admin API binds 0.0.0.0: asked for, or needed because a
ServiceMonitor scrapes it from outside the pod. The daemon refuses a
non-loopback admin bind without --admin-token-file, so a token always comes
with it.
*/}}
{{- define "radixmesh.adminExposed" -}}
{{- if or .Values.admin.expose .Values.metrics.serviceMonitor.enabled }}true{{ end }}
{{- end }}

{{/*
The prefill/decode protocol, "sglang" or "vllm", or empty when pd.mode is
"off" (also an unquoted off, which YAML reads as false).
*/}}
{{- define "radixmesh.pdMode" -}}
{{- $mode := .Values.pd.mode | toString }}
{{- if has $mode (list "sglang" "vllm") }}{{ $mode }}{{ end }}
{{- end }}

{{/* Where the files the daemon reads are mounted (the root filesystem is read-only). */}}
{{- define "radixmesh.configDir" -}}/etc/radixmesh/config{{- end }}
{{- define "radixmesh.meshSecretDir" -}}/etc/radixmesh/mesh{{- end }}
{{- define "radixmesh.adminTokenDir" -}}/etc/radixmesh/admin{{- end }}
{{- define "radixmesh.apiKeysDir" -}}/etc/radixmesh/api-keys{{- end }}
{{- define "radixmesh.meshTlsDir" -}}/etc/radixmesh/mesh-tls{{- end }}
{{- define "radixmesh.tlsDir" -}}/etc/radixmesh/tls{{- end }}
{{- define "radixmesh.upstreamCaDir" -}}/etc/radixmesh/upstream-ca{{- end }}

{{/*
A secret value that survives upgrades: the value given in values, else the
one already stored in the live Secret (lookup; empty under `helm template`),
else a fresh random one. Call with (dict "ctx" $ "name" N "key" K "value" V).
*/}}
{{- define "radixmesh.persistentSecret" -}}
{{- $ctx := .ctx }}
{{- if .value }}
{{- .value }}
{{- else }}
{{- $live := lookup "v1" "Secret" $ctx.Release.Namespace .name }}
{{- /* Nested ifs: `and` does not short-circuit in the template engine of helm < 3.9. */}}
{{- $data := dict }}
{{- if $live }}{{ if $live.data }}{{ $data = $live.data }}{{ end }}{{ end }}
{{- if hasKey $data .key }}
{{- index $data .key | b64dec }}
{{- else }}
{{- randAlphaNum 48 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Settings the chart sets itself, refused in .Values.config so that the
ConfigMap never contradicts the command line (flags would win silently).
*/}}
{{- define "radixmesh.managedKeys" -}}
host port admin-host admin_host admin-port admin_port admin-token-file admin_token_file node-id node_id mesh-port mesh_port mesh-advertise mesh_advertise peer peers peers-dns peers_dns mesh-secret-file mesh_secret_file worker workers workers-dns workers_dns workers-file workers_file api-keys-file api_keys_file api-keys-poll-ms api_keys_poll_ms forward-authorization forward_authorization rate-limit-rps rate_limit_rps rate-limit-burst rate_limit_burst max-in-flight-per-worker max_in_flight_per_worker max-queue max_queue queue-timeout-ms queue_timeout_ms mesh-tls-cert-file mesh_tls_cert_file mesh-tls-key-file mesh_tls_key_file mesh-tls-ca-file mesh_tls_ca_file tls-cert-file tls_cert_file tls-key-file tls_key_file tls-reload-interval-ms tls_reload_interval_ms upstream-ca-file upstream_ca_file pd-mode pd_mode prefill prefills decode decodes prefill-dns prefill_dns decode-dns decode_dns prefill-bootstrap-port prefill_bootstrap_port prefill-policy prefill_policy decode-policy decode_policy pd-bypass-bytes pd_bypass_bytes config
{{- end }}
