{{/* Pod-level settings shared by the Dask scheduler and workers (both modes). */}}
{{- define "driftstream.daskPodSpecCommon" -}}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ .Values.engine.scratchSizeLimit }}
{{- end }}

{{- define "driftstream.daskContainerCommon" -}}
image: {{ include "driftstream.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- end }}

{{- define "driftstream.daskEnv" -}}
{{- include "driftstream.commonEnv" . }}
{{- with .Values.dask.env }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The scheduler container (name "scheduler", as the dask-kubernetes operator expects). */}}
{{- define "driftstream.daskSchedulerContainer" -}}
- name: scheduler
  {{- include "driftstream.daskContainerCommon" . | nindent 2 }}
  args: ["dask", "scheduler", "--host", "0.0.0.0", "--port", "8786", "--dashboard-address", ":8787"]
  env:
    {{- include "driftstream.daskEnv" . | nindent 4 }}
  ports:
    - name: tcp-comm
      containerPort: 8786
      protocol: TCP
    - name: http-dashboard
      containerPort: 8787
      protocol: TCP
  livenessProbe:
    httpGet: {path: /health, port: http-dashboard}
    initialDelaySeconds: 15
    periodSeconds: 20
  readinessProbe:
    httpGet: {path: /health, port: http-dashboard}
    initialDelaySeconds: 0
    periodSeconds: 5
  resources:
    {{- toYaml .Values.dask.scheduler.resources | nindent 4 }}
{{- end }}

{{/* The worker container. $schedulerArg: the scheduler address argument (deployments mode) or
     empty (operator mode: the operator sets DASK_SCHEDULER_ADDRESS and DASK_WORKER_NAME). */}}
{{- define "driftstream.daskWorkerContainer" -}}
{{- $root := .root -}}
- name: worker
  {{- include "driftstream.daskContainerCommon" $root | nindent 2 }}
  args:
    - dask
    - worker
    {{- with .scheduler }}
    - {{ . | quote }}
    {{- end }}
    {{- if .operator }}
    - --name
    - $(DASK_WORKER_NAME)
    {{- end }}
    - --nthreads
    - {{ $root.Values.dask.worker.nthreads | quote }}
    - --dashboard
    - --dashboard-address
    - "8788"
    - --local-directory
    - /tmp
  env:
    {{- include "driftstream.daskEnv" $root | nindent 4 }}
  ports:
    - name: http-dashboard
      containerPort: 8788
      protocol: TCP
  livenessProbe:
    httpGet: {path: /health, port: http-dashboard}
    initialDelaySeconds: 15
    periodSeconds: 20
  readinessProbe:
    httpGet: {path: /health, port: http-dashboard}
    periodSeconds: 10
  resources:
    {{- toYaml $root.Values.dask.worker.resources | nindent 4 }}
{{- end }}
