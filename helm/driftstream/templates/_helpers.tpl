{{/* Chart name, truncated to 63 characters (DNS label limit). */}}
{{- define "driftstream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: <release>-<chart> unless the release already contains it. */}}
{{- define "driftstream.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "driftstream.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels common to every object. */}}
{{- define "driftstream.labels" -}}
helm.sh/chart: {{ include "driftstream.chart" . }}
{{ include "driftstream.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: driftstream
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "driftstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "driftstream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The image reference, tag defaulting to appVersion. */}}
{{- define "driftstream.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "driftstream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "driftstream.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Name of the Secret holding the Kafka settings. */}}
{{- define "driftstream.kafkaSecretName" -}}
{{- default (printf "%s-kafka" (include "driftstream.fullname" .)) .Values.kafka.existingSecret }}
{{- end }}

{{/* Dask cluster name (DaskCluster metadata.name, or the prefix of the Deployments). */}}
{{- define "driftstream.daskClusterName" -}}
{{- default (printf "%s-dask" (include "driftstream.fullname" .)) .Values.dask.clusterName | trunc 40 | trimSuffix "-" }}
{{- end }}

{{/* Address of the Dask scheduler the engines connect to. */}}
{{- define "driftstream.daskSchedulerAddress" -}}
{{- printf "tcp://%s-scheduler.%s.svc:8786" (include "driftstream.daskClusterName" .) .Release.Namespace }}
{{- end }}

{{/* Name of a monitor's objects: <fullname>-<monitor>. Call with (dict "root" $ "monitor" .). */}}
{{- define "driftstream.monitorFullname" -}}
{{- printf "%s-%s" (include "driftstream.fullname" .root) .monitor.name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Kafka environment variables from the Secret. */}}
{{- define "driftstream.kafkaEnv" -}}
{{- $secret := include "driftstream.kafkaSecretName" . -}}
{{- $keys := .Values.kafka.secretKeys -}}
- name: DRIFTSTREAM_KAFKA_BOOTSTRAP
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $keys.bootstrapServers }}}
- name: DRIFTSTREAM_KAFKA_SECURITY_PROTOCOL
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $keys.securityProtocol }}, optional: true}
- name: DRIFTSTREAM_KAFKA_SASL_MECHANISM
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $keys.saslMechanism }}, optional: true}
- name: DRIFTSTREAM_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $keys.saslUsername }}, optional: true}
- name: DRIFTSTREAM_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $keys.saslPassword }}, optional: true}
{{- if .Values.kafka.tls.enabled }}
- name: DRIFTSTREAM_KAFKA_SSL_CAFILE
  value: /etc/driftstream/kafka/ca.crt
{{- end }}
{{- end }}

{{/* Volume with the Kafka CA bundle (only with kafka.tls.enabled). */}}
{{- define "driftstream.kafkaTlsVolume" -}}
{{- if .Values.kafka.tls.enabled }}
- name: kafka-tls
  secret:
    secretName: {{ include "driftstream.kafkaSecretName" . }}
    items:
      - key: {{ .Values.kafka.secretKeys.caCert }}
        path: ca.crt
{{- end }}
{{- end }}

{{- define "driftstream.kafkaTlsVolumeMount" -}}
{{- if .Values.kafka.tls.enabled }}
- name: kafka-tls
  mountPath: /etc/driftstream/kafka
  readOnly: true
{{- end }}
{{- end }}

{{/* Environment shared by every container: HOME and temp dirs on the writable emptyDir. */}}
{{- define "driftstream.commonEnv" -}}
- name: HOME
  value: /tmp
- name: TMPDIR
  value: /tmp
- name: DASK_TEMPORARY_DIRECTORY
  value: /tmp
- name: POD_NAMESPACE
  valueFrom:
    fieldRef: {fieldPath: metadata.namespace}
{{- end }}
