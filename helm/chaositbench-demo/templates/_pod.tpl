{{/*
The pod template of a component: one container "app" running files/app.py with the component's
needs (annotation chaositbench.io/needs, mounted back into the pod through the downward API),
its settings as env vars (ConfigMap <name>-config, Secret postgres-credentials), probes and
resources. Called with (dict "root" $ "name" <component key>).
*/}}
{{- define "demo.podTemplate" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $c := index $root.Values.components $name -}}
metadata:
  labels:
    {{- include "demo.labels" . | nindent 4 }}
  annotations:
    chaositbench.io/needs: {{ include "demo.needs" . | toJson }}
    checksum/app: {{ $root.Files.Get "files/app.py" | sha256sum }}
    checksum/config: {{ toJson (list $c.config $c.secretEnv $c.files) | sha256sum }}
spec:
  serviceAccountName: {{ $name }}
  # only a component that calls the Kubernetes API (kubernetesApi) gets its ServiceAccount token
  automountServiceAccountToken: {{ not (empty $c.kubernetesApi) }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: 30
  containers:
    - name: app
      image: "{{ $root.Values.image.repository }}:{{ $root.Values.image.tag }}"
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      command: ["python", "-u", "-B", "/opt/chaositbench/app.py"]
      args:
        - --container=app
        - --needs=/etc/podinfo/annotations
        {{- if eq $c.protocol "http" }}
        - --liveness-path={{ $c.probes.liveness }}
        - --readiness-path={{ $c.probes.readiness }}
        {{- end }}
      ports:
        - name: {{ $c.portName }}
          containerPort: {{ $c.port }}
          protocol: TCP
      env:
        {{- range $key := keys $c.config | sortAlpha }}
        - name: {{ $key }}
          valueFrom:
            configMapKeyRef:
              name: {{ $name }}-config
              key: {{ $key }}
        {{- end }}
        {{- range $key := keys $c.secretEnv | sortAlpha }}
        - name: {{ $key }}
          valueFrom:
            secretKeyRef:
              name: postgres-credentials
              key: {{ index $c.secretEnv $key }}
        {{- end }}
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
      {{- if eq $c.protocol "http" }}
      readinessProbe:
        httpGet:
          path: {{ $c.probes.readiness }}
          port: {{ $c.portName }}
        initialDelaySeconds: {{ $c.probes.initialDelaySeconds }}
        periodSeconds: {{ $c.probes.periodSeconds }}
        timeoutSeconds: 2
        failureThreshold: 3
      livenessProbe:
        httpGet:
          path: {{ $c.probes.liveness }}
          port: {{ $c.portName }}
        initialDelaySeconds: {{ add $c.probes.initialDelaySeconds 10 }}
        periodSeconds: 10
        timeoutSeconds: 2
        failureThreshold: 3
      {{- else }}
      readinessProbe:
        tcpSocket:
          port: {{ $c.portName }}
        initialDelaySeconds: {{ $c.probes.initialDelaySeconds }}
        periodSeconds: {{ $c.probes.periodSeconds }}
        timeoutSeconds: 2
        failureThreshold: 3
      livenessProbe:
        tcpSocket:
          port: {{ $c.portName }}
        initialDelaySeconds: {{ add $c.probes.initialDelaySeconds 10 }}
        periodSeconds: 10
        timeoutSeconds: 2
        failureThreshold: 3
      {{- end }}
      resources:
        {{- toYaml $c.resources | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.containerSecurityContext | nindent 8 }}
      volumeMounts:
        - name: app
          mountPath: /opt/chaositbench
          readOnly: true
        - name: podinfo
          mountPath: /etc/podinfo
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- if $c.files }}
        - name: files
          mountPath: {{ $c.files.mountPath }}
          readOnly: true
        {{- end }}
        {{- if $c.persistence }}
        - name: data
          mountPath: {{ $c.persistence.mountPath }}
        {{- end }}
  volumes:
    - name: app
      configMap:
        name: chaositbench-demo-app
        defaultMode: 0444
    - name: podinfo
      downwardAPI:
        items:
          - path: annotations
            fieldRef:
              fieldPath: metadata.annotations
          - path: labels
            fieldRef:
              fieldPath: metadata.labels
    - name: tmp
      emptyDir:
        sizeLimit: {{ $root.Values.tmpSizeLimit }}
    {{- if $c.files }}
    - name: files
      configMap:
        name: {{ $name }}-files
    {{- end }}
{{- end -}}
