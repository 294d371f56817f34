// Runs vars/mendixBuild.groovy's call() in plain Groovy, each Pipeline step it uses
// stubbed: prints, as JSON, what each scenario did (the steps in order, the environment the
// step's `sh` saw) and what call() returned or the error it raised.
//
//   groovy tests/jenkins/harness.groovy SCENARIOS.json vars/mendixBuild.groovy
//
// A scenario: {"args": {...}, "exitCode": N, "properties": {...} or null}.

import groovy.json.JsonOutput
import groovy.json.JsonSlurper

class StepFailed extends RuntimeException {
    StepFailed(String message) { super(message) }
}

def runScenario(File library, Map scenario) {
    List events = []
    List<Map> environments = [[:]]   // withEnv and withCredentials, innermost last
    Closure seen = { -> environments.inject([:]) { all, layer -> all + layer } }

    Binding binding = new Binding()
    binding.sh = { arg ->
        if (arg instanceof Map) {
            events << [step: 'sh', script: arg.script, returnStatus: arg.returnStatus, env: seen()]
            return scenario.exitCode
        }
        events << [step: 'sh', script: arg]
        return 0
    }
    binding.fileExists = { String path ->
        events << [step: 'fileExists', path: path]
        return scenario.properties != null
    }
    binding.readProperties = { Map named ->
        events << [step: 'readProperties', file: named.file]
        return new LinkedHashMap(scenario.properties)
    }
    binding.archiveArtifacts = { Map named -> events << [step: 'archiveArtifacts'] + named }
    binding.junit = { Map named -> events << [step: 'junit'] + named }
    binding.error = { String message ->
        events << [step: 'error', message: message]
        throw new StepFailed(message)
    }
    binding.unstable = { String message -> events << [step: 'unstable', message: message] }
    binding.usernamePassword = { Map named -> [kind: 'usernamePassword'] + named }
    binding.string = { Map named -> [kind: 'string'] + named }
    binding.withEnv = { List variables, Closure body ->
        events << [step: 'withEnv', variables: variables]
        Map layer = [:]
        for (item in variables) {
            int split = item.indexOf('=')
            layer[item.substring(0, split)] = item.substring(split + 1)
        }
        environments << layer
        try { return body() } finally { environments.remove(environments.size() - 1) }
    }
    binding.withCredentials = { List bindings, Closure body ->
        events << [step: 'withCredentials', bindings: bindings]
        Map layer = [:]
        for (credential in bindings) {
            if (credential.kind == 'usernamePassword') {
                layer[credential.usernameVariable] = "user-of-${credential.credentialsId}"
                layer[credential.passwordVariable] = "secret-of-${credential.credentialsId}"
            } else {
                layer[credential.variable] = "secret-of-${credential.credentialsId}"
            }
        }
        environments << layer
        try { return body() } finally { environments.remove(environments.size() - 1) }
    }
    binding.lock = { Map named, Closure body ->
        events << [step: 'lock'] + named
        return body()
    }
    binding.timeout = { Map named, Closure body ->
        events << [step: 'timeout'] + named
        return body()
    }
    binding.docker = new Expando(image: { String name ->
        new Expando(inside: { Closure body ->
            events << [step: 'docker.image.inside', image: name]
            return body()
        })
    })
    binding.env = [WORKSPACE: '/var/jenkins/workspace/calc']

    Script script = new GroovyShell(binding).parse(library)
    Map result = [events: events]
    try {
        result.returned = script.call(scenario.args)
    } catch (StepFailed failed) {
        result.error = failed.message
    }
    return result
}

File library = new File(args[1])
List scenarios = new JsonSlurper().parse(new File(args[0])) as List
List results = []
for (scenario in scenarios) {
    results << runScenario(library, scenario as Map)
}
println JsonOutput.toJson(results)
